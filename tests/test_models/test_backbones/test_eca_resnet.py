"""ECAResNet: mmpretrain's ResNet with an ECA layer after each bottleneck's
last norm (RLA-Net's "+ECA" baseline of Tables 3 and 14)."""
import pytest
import torch
from mmpretrain.models import ResNet

from mmrla.models import ECAResNet
from mmrla.models.backbones.eca_resnet import ECABottleneck
from tests.fixtures.models import assert_all_params_have_grads, num_params


@pytest.mark.parametrize('depth,blocks', [(50, 16), (101, 33), (152, 50)])
def test_parameters_are_resnets_plus_one_kernel_per_block(depth, blocks):
    # One k-tap 1D conv per block: 5 in stages 1-3, 7 in stage 4 (3 blocks).
    eca = ECAResNet(depth=depth)
    plain = ResNet(depth=depth)
    assert num_params(eca) - num_params(plain) == 5 * (blocks - 3) + 7 * 3
    kernels = [
        m.eca.conv.kernel_size[0] for m in eca.modules()
        if isinstance(m, ECABottleneck)
    ]
    assert len(kernels) == blocks and kernels[-1] == 7 and kernels[0] == 5


def test_block_is_the_bottleneck_with_the_gate_before_the_sum():
    torch.manual_seed(0)
    block = ECABottleneck(64, 64, eca_kernel_size=3).eval()
    x = torch.rand(2, 64, 6, 6)
    with torch.no_grad():
        out = block.norm3(
            block.conv3(
                block.relu(
                    block.norm2(
                        block.conv2(block.relu(block.norm1(
                            block.conv1(x))))))))
        gate = torch.sigmoid(block.eca.conv(out.mean((2, 3)).unsqueeze(1)))
        expected = torch.relu(out * gate.transpose(1, 2).unsqueeze(-1) + x)
        torch.testing.assert_close(block(x), expected)


def test_forward_backward_and_errors():
    model = ECAResNet(depth=50, out_indices=(0, 1, 2, 3))
    outs = model(torch.rand(2, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 16, 16), (512, 8, 8),
                                                  (1024, 4, 4), (2048, 2, 2)]
    assert_all_params_have_grads(model, outs)
    with pytest.raises(KeyError, match='invalid depth 18'):
        ECAResNet(depth=18)
    with pytest.raises(ValueError, match='one kernel size per stage'):
        ECAResNet(depth=50, eca_kernel_sizes=(3, 3))
