import copy
import math

import pytest
import torch
import torch.nn as nn

from mmrla.models import ECALayer


@pytest.mark.parametrize('channels,kernel_size', [(1, 1), (7, 3), (64, 5),
                                                  (13, 9)])
def test_keeps_the_shape(channels, kernel_size):
    layer = ECALayer(channels, kernel_size)
    x = torch.rand(2, channels, 5, 3)
    assert layer(x).shape == x.shape


def test_gate_is_the_sigmoid_of_a_1d_conv_over_channel_means():
    torch.manual_seed(0)
    layer = ECALayer(6, kernel_size=3).double()
    x = torch.randn(2, 6, 4, 5, dtype=torch.float64)
    w = layer.conv.weight.view(3).tolist()
    out = layer(x)
    for n in range(2):
        means = [x[n, c].mean().item() for c in range(6)]
        for c in range(6):
            # Zero padding across channels: neighbours c - 1 and c + 1.
            z = sum(w[j] * means[c + j - 1] for j in range(3)
                    if 0 <= c + j - 1 < 6)
            gate = 1 / (1 + math.exp(-z))
            torch.testing.assert_close(out[n, c], x[n, c] * gate)


def test_parameters_match_the_authors_checkpoints():
    layer = ECALayer(64, kernel_size=5)
    assert {
        k: tuple(v.shape)
        for k, v in layer.state_dict().items()
    } == {
        'conv.weight': (1, 1, 5)
    }


@pytest.mark.parametrize('kernel_size', [0, -3, 2, 4, 3.0, '3', None])
def test_rejects_kernel_sizes_that_are_not_positive_odd_integers(kernel_size):
    with pytest.raises(ValueError, match='positive odd integer'):
        ECALayer(8, kernel_size)


def _residual_relu_pass(layer, norm, c, identity, fast):
    """Output, input and parameter gradients, and norm buffers of
    ``layer.residual_relu`` (fast or plain) on copies of everything."""
    layer, norm = copy.deepcopy(layer), copy.deepcopy(norm)
    c = c.clone().requires_grad_()
    identity = identity.clone().requires_grad_()
    out = layer.residual_relu(c, norm, identity, nn.ReLU(inplace=True), fast)
    # A weighted sum, so that every gradient path is exercised.
    (out * torch.linspace(-1, 2, out.numel(),
                          dtype=out.dtype).view_as(out)).sum().backward()
    grads = [c.grad, identity.grad, layer.conv.weight.grad]
    grads += [p.grad for p in norm.parameters()]
    assert all(g is not None for g in grads)
    return [out] + grads + list(norm.buffers())


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.float64, 1e-12)])
@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('norm_kwargs', [
    dict(),
    dict(momentum=None),
    dict(affine=False),
    dict(track_running_stats=False),
])
def test_residual_relu_fast_form_equals_the_plain_form(dtype, tol, training,
                                                       norm_kwargs):
    torch.manual_seed(0)
    layer = ECALayer(8, kernel_size=3).to(dtype)
    norm = nn.BatchNorm2d(8, **norm_kwargs).to(dtype)
    with torch.no_grad():
        if norm.affine:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
        if norm.track_running_stats:
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 1.5)
    norm.train(training)
    # Means away from zero: the fast gradient of the gate subtracts them.
    c = 2 + torch.randn(3, 8, 5, 6, dtype=dtype)
    identity = torch.randn(3, 8, 5, 6, dtype=dtype)
    fast = _residual_relu_pass(layer, norm, c, identity, True)
    plain = _residual_relu_pass(layer, norm, c, identity, False)
    assert (fast[0] == 0).any() and (fast[0] > 0).any()  # ReLU is active
    for a, b in zip(fast, plain):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


def _saved_bytes(fn) -> int:
    """Bytes of the distinct tensors autograd keeps for backward."""
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(saved.values())


def test_residual_relu_fast_form_keeps_one_feature_map_less():
    layer, norm = ECALayer(16), nn.BatchNorm2d(16)
    c = torch.randn(2, 16, 32, 32, requires_grad=True)
    identity = torch.randn(2, 16, 32, 32)
    relu = nn.ReLU(inplace=True)

    def run(fast):
        return _saved_bytes(
            lambda: layer.residual_relu(c, norm, identity, relu, fast))

    feature_map = c.numel() * c.element_size()
    # Plain: c (norm), norm(c) (product), the output (ReLU); fast: c and
    # the output. The gates and statistics are tiny.
    assert run(False) - run(True) > 0.99 * feature_map
    assert run(True) < 2.1 * feature_map


@pytest.mark.parametrize('norm,act', [
    (nn.GroupNorm(2, 8), nn.ReLU()),
    (nn.SyncBatchNorm(8), nn.ReLU()),
    (nn.BatchNorm2d(8), nn.ReLU6()),
])
def test_residual_relu_keeps_the_plain_form_for_other_layers(norm, act):
    layer = ECALayer(8).eval()
    norm.eval()
    c, identity = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    out = layer.residual_relu(c, norm, identity, act)
    assert out.grad_fn is None or 'GateResidual' not in type(
        out.grad_fn).__name__
    torch.testing.assert_close(out, act(layer(norm(c)) + identity))
