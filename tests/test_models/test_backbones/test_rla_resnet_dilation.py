"""Dilated stages: the strided RLA network computed at every position.

A stage with stride 1 and a larger dilation keeps its resolution; ``h``
keeps it too, is averaged densely where the strided network pools it, and
the stage's recurrent conv is dilated like its 3x3 convs. With
``contract_dilation`` (as mmseg dilates) the eval-mode features, read at
every ``d``-th position, are the strided model's with the same weights.
"""
import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.models import RLAResNet
from mmrla.models.utils.rla_cell import (dense_pool_hidden_state,
                                         pool_hidden_state)
from tests.fixtures.models import assert_all_params_have_grads

STRIDED = dict(strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1))


def _randomized(model):
    """Seeded random weights and norm statistics, in float64, eval mode."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(
                    torch.randn(m.weight.shape, generator=gen) /
                    m.weight[0].numel()**0.5)
            elif isinstance(m, _BatchNorm):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return model.double().eval()


# Bottlenecks: as in mmdet and mmseg, a basic block dilates its first conv
# only, so depth 18/34 is not the strided network at every position.
@pytest.mark.parametrize(
    'strides,dilations,steps',
    [
        ((1, 2, 2, 1), (1, 1, 1, 2), (1, 1, 1, 2)),  # mmdet's DC5
        ((1, 2, 1, 1), (1, 1, 2, 4), (1, 1, 2, 4)),  # mmseg's output stride 8
    ])
def test_dilated_stages_compute_the_strided_network_densely(
        strides, dilations, steps):
    kwargs = dict(
        depth=50,
        base_channels=8,
        out_indices=(0, 1, 2, 3),
        concat_hidden=True)
    strided = _randomized(RLAResNet(**kwargs, **STRIDED))
    dilated = RLAResNet(
        **kwargs, strides=strides, dilations=dilations, contract_dilation=True)
    # Same parameters and keys: the dilations change no shape.
    dilated.load_state_dict(strided.state_dict())
    dilated.double().eval()
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected, outs = strided(x), dilated(x)
    for step, e, o in zip(steps, expected, outs):
        assert o.shape[-1] == e.shape[-1] * step
        # The last feature ends in h's read-out: h agrees too.
        torch.testing.assert_close(o[..., ::step, ::step], e)
    assert dilated.rla_recurrent_convs[3].dilation == (dilations[3], ) * 2


@pytest.mark.parametrize('style', ['pytorch', 'caffe'])
def test_mmdet_dilated_c5_trains(style):
    # mmdet's DC5 (no contract_dilation): stride 16 features, h at stride 16,
    # and every parameter learns.
    model = RLAResNet(
        50,
        base_channels=8,
        style=style,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        out_indices=(3, ),
        concat_hidden=True).train()
    (out, ) = model(torch.rand(2, 3, 64, 96))
    assert out.shape == (2, 256 + 32, 4, 6)
    assert [b.conv2.dilation for b in model.layer4] == [(2, 2)] * 3
    assert_all_params_have_grads(model, [out])


def test_dilations_must_grow_by_whole_factors():
    with pytest.raises(ValueError, match='multiple'):
        RLAResNet(50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 3))
    with pytest.raises(ValueError, match='multiple'):
        RLAResNet(50, strides=(1, 2, 1, 1), dilations=(1, 2, 1, 1))


@pytest.mark.parametrize('size', [(6, 8), (7, 9)])
@pytest.mark.parametrize('factor,spacing', [(2, 1), (2, 2), (3, 1)])
def test_dense_pooling_is_strided_pooling_at_every_position(
        size, factor, spacing):
    h = torch.rand(2, 5, *size, dtype=torch.float64)
    dense = dense_pool_hidden_state(h, factor, spacing)
    assert dense.shape == h.shape
    # On the grid of step `spacing`, it is the strided pooling read at
    # every position of that grid.
    for dy in range(spacing):
        for dx in range(spacing):
            grid = h[..., dy::spacing, dx::spacing]
            step = factor
            torch.testing.assert_close(
                dense[..., dy::spacing * step, dx::spacing * step],
                pool_hidden_state(grid, factor))
    assert dense_pool_hidden_state(h, 1, 4) is h
