import pytest
import torch
import torch.nn as nn

from mmrla.models.utils import (batch_norm_parts, derived_weights,
                                splittable_batch_norm)


def _bn_pair(**kwargs):
    torch.manual_seed(0)
    whole = nn.BatchNorm2d(7, **kwargs)
    if whole.affine:
        whole.weight.data.uniform_(0.5, 1.5)
        whole.bias.data.uniform_(-0.5, 0.5)
    if whole.track_running_stats:
        whole.running_mean.uniform_(-0.5, 0.5)
        whole.running_var.uniform_(0.5, 2.0)
    parts = nn.BatchNorm2d(7, **kwargs)
    parts.load_state_dict(whole.state_dict())
    return whole, parts


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(momentum=None),
    dict(affine=False),
    dict(track_running_stats=False),
])
@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_parts_equals_the_norm_of_the_concatenation(
        kwargs, training):
    whole, parts = _bn_pair(**kwargs)
    whole.train(training)
    parts.train(training)
    a = torch.randn(3, 4, 5, 6, requires_grad=True)
    b = torch.randn(3, 3, 5, 6, requires_grad=True)
    for _ in range(2):  # twice: the running statistics feed the next call
        expected = whole(torch.cat([a, b], 1))
        out_a, out_b = batch_norm_parts(parts, [a, b])
        torch.testing.assert_close(torch.cat([out_a, out_b], 1), expected)
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(parts.state_dict()[name], value, msg=name)
    if training and whole.track_running_stats:
        assert int(parts.num_batches_tracked) == 2  # once per call
    # Gradients reach the inputs and the shared affine parameters.
    grads = torch.autograd.grad(expected.square().sum(), [a, b])
    split_grads = torch.autograd.grad(
        torch.cat([out_a, out_b], 1).square().sum(), [a, b])
    for g, s in zip(grads, split_grads):
        torch.testing.assert_close(s, g)


def test_only_plain_batch_norm_is_split():
    assert splittable_batch_norm(nn.BatchNorm2d(4))
    assert not splittable_batch_norm(nn.SyncBatchNorm(4))
    assert not splittable_batch_norm(nn.GroupNorm(2, 4))


def test_derived_weights_cached_for_inference_only():
    conv = nn.Conv2d(6, 4, 1)
    calls = []

    def split(w):
        calls.append(1)
        return w.split([4, 2], dim=1)

    with torch.no_grad():
        first = derived_weights(conv, 'split', split, conv.weight)
        again = derived_weights(conv, 'split', split, conv.weight)
        assert again is first and len(calls) == 1
        conv.weight.mul_(2)  # an optimizer-style in-place update
        updated = derived_weights(conv, 'split', split, conv.weight)
    assert len(calls) == 2
    torch.testing.assert_close(updated[0], conv.weight[:, :4])
    # With autograd recording, the derivation must be in the graph.
    grad_path = derived_weights(conv, 'split', split, conv.weight)
    assert len(calls) == 3 and grad_path[0].requires_grad
    assert not any('cache' in k for k in conv.state_dict())
