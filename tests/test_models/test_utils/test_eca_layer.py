import math

import pytest
import torch

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
