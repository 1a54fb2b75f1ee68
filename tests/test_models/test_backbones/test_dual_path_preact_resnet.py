"""DualPathPreActResNet: RLA-Net's "DenseNet (DPN)" ablation of
ResNet-164 (Table 11), with the paper's 2.13M parameters."""
import pytest
import torch
import torch.nn as nn

from mmrla.models import DualPathPreActResNet
from mmrla.models.backbones.dual_path_preact_resnet import \
    DualPathPreActBottleneck
from tests.fixtures.models import assert_all_params_have_grads, num_params


def _closed_form(k, classes=10):
    """Stem, per block BN(C_in) + 1x1 (C_in -> m) + BN(m) + 3x3 (m -> m) +
    BN(m) + 1x1 (m -> C + k) and the first block's projection (C_in ->
    C + 2k), the final BN and the fc; C_in grows by k per block."""
    total, cin = 27 * 16, 16
    for i in range(3):
        c = 64 * 2**i
        m = c // 4
        for j in range(18):
            total += 2 * cin + cin * m + 4 * m + 9 * m * m + m * (c + k)
            total += cin * (c + 2 * k) if j == 0 else 0
            cin = c + (j + 3) * k
    return total + 2 * cin + (cin + 1) * classes


@pytest.mark.parametrize('growth', [4, 12])
def test_params_match_the_closed_form_and_the_paper(growth):
    model = DualPathPreActResNet(growth=growth)
    assert model.out_channels == 256 + 20 * growth
    head = nn.Linear(model.out_channels, 10)
    total = num_params(model) + num_params(head)
    assert total == _closed_form(growth)
    if growth == 12:
        # Table 11: "DenseNet (DPN)" 2.13M (RLA-ResNet-164's k = 12).
        assert total == 2_127_794 and round(total / 1e6, 2) == 2.13


def test_block_splits_residual_and_dense_paths():
    torch.manual_seed(0)
    block = DualPathPreActBottleneck(64 + 36, 64, growth=12).eval()
    residual, dense = torch.rand(2, 64, 5, 5), torch.rand(2, 36, 5, 5)
    with torch.no_grad():
        r, d = block(residual, dense)
        pre = block.act(block.norm1(torch.cat([residual, dense], 1)))
        out = block.conv3(
            block.act(
                block.norm3(
                    block.conv2(block.act(block.norm2(block.conv1(pre)))))))
    torch.testing.assert_close(r, residual + out[:, :64])
    torch.testing.assert_close(d, torch.cat([dense, out[:, 64:]], 1))


def test_forward_backward_and_stage_outputs():
    model = DualPathPreActResNet(stage_blocks=(2, 2, 2), out_indices=(0, 2))
    model.init_weights()
    outs = model(torch.rand(2, 3, 16, 16))
    # Residual + 2k + 2 * k dense channels per stage.
    assert [tuple(o.shape[1:]) for o in outs] == [(64 + 48, 16, 16),
                                                  (256 + 48, 4, 4)]
    assert_all_params_have_grads(model, outs)
    with pytest.raises(ValueError, match='growth must be a positive'):
        DualPathPreActResNet(growth=0)
