import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmrla.models.utils import conv_over_concat, depthwise_over_concat
from mmrla.models.utils.concat_conv import (_batch_norm_parts,
                                            _splittable_conv_module,
                                            keep_split_weights,
                                            kept_split_weights)


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
        out_a, out_b = _batch_norm_parts(parts, [a, b])
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


@pytest.mark.parametrize('kernel,stride', [(1, 1), (3, 1), (3, 2)])
@pytest.mark.parametrize('with_zero_part', [False, True])
def test_conv_over_concat_equals_the_plain_form(kernel, stride,
                                                with_zero_part):
    torch.manual_seed(0)
    conv = nn.Conv2d(9, 5, kernel, stride, kernel // 2, bias=False)
    x = torch.randn(2, 6, 7, 8, requires_grad=True)
    h = None if with_zero_part else torch.randn(2, 3, 7, 8)
    fast = conv_over_concat(conv, [x, h], [6, 3])
    plain = conv_over_concat(conv, [x, h], [6, 3], fast=False)
    dense = torch.zeros(2, 3, 7, 8) if h is None else h
    torch.testing.assert_close(plain, conv(torch.cat([x, dense], 1)))
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    g_fast, = torch.autograd.grad(fast.sum(), conv.weight)
    g_plain, = torch.autograd.grad(plain.sum(), conv.weight)
    torch.testing.assert_close(g_fast, g_plain, atol=1e-4, rtol=1e-4)


def test_conv_over_concat_broadcasts_a_constant_map_and_runs_a_conv_module():
    torch.manual_seed(0)
    layer = ConvModule(6, 4, 1, norm_cfg=dict(type='BN')).eval()
    x = torch.randn(2, 4, 5, 5)
    const = torch.randn(1, 2, 1, 1)
    expected = layer(torch.cat([x, const.expand(2, 2, 5, 5)], 1))
    for fast in (True, False):
        out = conv_over_concat(layer, [x, const], [4, 2], fast=fast)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('conv_cfg', [dict(type='ConvWS'), None])
def test_conv_over_concat_falls_back_where_the_split_is_not_exact(conv_cfg):
    from mmcv.cnn import build_conv_layer
    conv = build_conv_layer(conv_cfg, 6, 4, 3, padding=1, bias=True)
    x, h = torch.randn(1, 4, 5, 5), torch.randn(1, 2, 5, 5)
    # A bias or a standardized weight would be counted per part.
    torch.testing.assert_close(
        conv_over_concat(conv, [x, h], [4, 2]), conv(torch.cat([x, h], 1)))


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('with_zero_part', [False, True])
def test_depthwise_over_concat_equals_the_plain_form(training, with_zero_part):
    torch.manual_seed(0)
    layers = [
        ConvModule(
            7,
            7,
            3,
            stride=2,
            padding=1,
            groups=7,
            norm_cfg=dict(type='BN'),
            act_cfg=dict(type='ReLU6')) for _ in range(2)
    ]
    layers[0].norm.running_mean.uniform_(-0.5, 0.5)
    layers[1].load_state_dict(layers[0].state_dict())
    for m in layers:
        m.train(training)
    e = torch.randn(2, 4, 9, 8)
    h = None if with_zero_part else torch.randn(2, 3, 9, 8)
    fast = depthwise_over_concat(layers[0], [e, h], [4, 3])
    plain = depthwise_over_concat(layers[1], [e, h], [4, 3], fast=False)
    assert [p.shape[1] for p in fast] == [4, 3]
    torch.testing.assert_close(fast[0], plain[0], atol=1e-5, rtol=1e-5)
    # A zero part is one constant per channel, kept at 1x1 to broadcast.
    torch.testing.assert_close(
        fast[1].expand_as(plain[1]), plain[1], atol=1e-5, rtol=1e-5)
    if with_zero_part:
        assert fast[1].shape == (1, 3, 1, 1)
    for name, value in layers[1].state_dict().items():
        torch.testing.assert_close(
            layers[0].state_dict()[name], value, msg=name)


@pytest.mark.parametrize('with_zero_part', [False, True])
def test_depthwise_over_concat_of_a_bare_conv_keeps_zeros_as_none(
        with_zero_part):
    # Xception's separable conv: a depthwise conv with no norm, no
    # activation and no bias, so zeros stay zeros.
    dw = ConvModule(
        7, 7, 3, padding=1, groups=7, bias=False, norm_cfg=None, act_cfg=None)
    assert _splittable_conv_module(dw)
    e = torch.randn(2, 4, 9, 8)
    h = None if with_zero_part else torch.randn(2, 3, 9, 8)
    fast = depthwise_over_concat(dw, [e, h], [4, 3])
    plain = depthwise_over_concat(dw, [e, h], [4, 3], fast=False)
    torch.testing.assert_close(fast[0], plain[0])
    if with_zero_part:
        assert fast[1] is None
        assert torch.equal(plain[1], torch.zeros(2, 3, 9, 8))
    else:
        torch.testing.assert_close(fast[1], plain[1])
    # A bias would not keep zeros: that conv takes the plain form.
    assert not _splittable_conv_module(
        ConvModule(7, 7, 3, padding=1, groups=7, act_cfg=None))


def test_only_per_channel_conv_modules_are_split():

    def dw(**kwargs):
        return ConvModule(4, 4, 3, padding=1, groups=4, **kwargs)

    assert _splittable_conv_module(dw(norm_cfg=dict(type='BN')))
    assert not _splittable_conv_module(
        dw(norm_cfg=dict(type='GN', num_groups=2)))
    assert not _splittable_conv_module(dw(norm_cfg=dict(type='SyncBN')))
    assert not _splittable_conv_module(
        dw(norm_cfg=dict(type='BN'), act_cfg=dict(type='PReLU')))
    assert not _splittable_conv_module(
        ConvModule(4, 4, 3, padding=1, norm_cfg=dict(type='BN')))


def test_kept_split_weights_are_buffers_outside_the_state_dict():
    conv = nn.Conv2d(6, 4, 1, bias=False)
    assert kept_split_weights(conv, 'split') is None
    keep_split_weights(conv, 'split', conv.weight, [4, 2], 1)
    kept = kept_split_weights(conv, 'split')
    assert [tuple(w.shape) for w in kept] == [(4, 4, 1, 1), (4, 2, 1, 1)]
    torch.testing.assert_close(torch.cat(kept, 1), conv.weight.detach())
    assert all(w.is_contiguous() and not w.requires_grad for w in kept)
    assert set(conv.state_dict()) == {'weight'}
    conv.double()  # buffers follow dtype and device changes
    assert all(w.dtype == torch.float64
               for w in kept_split_weights(conv, 'split'))
