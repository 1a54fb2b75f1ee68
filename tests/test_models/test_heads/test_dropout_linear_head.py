import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.heads import LinearClsHead

from mmrla.models.heads import DropoutLinearClsHead


def test_eval_mode_is_the_plain_linear_layer():
    head = DropoutLinearClsHead(num_classes=10, in_channels=8).eval()
    feats = (torch.rand(4, 8), )
    torch.testing.assert_close(head(feats), head.fc(feats[0]))


def test_training_drops_the_inputs_of_the_linear_layer():
    head = DropoutLinearClsHead(
        num_classes=10, in_channels=8, dropout_rate=0.5).train()
    x = torch.ones(64, 8)
    torch.manual_seed(0)
    logits = head((x, ))
    # The same random mask, applied where the head must apply it: to the
    # pooled feature, scaled by 1 / (1 - p), before fc.
    torch.manual_seed(0)
    expected = head.fc(F.dropout(x, p=0.5, training=True))
    torch.testing.assert_close(logits, expected)
    assert not torch.allclose(logits, head.fc(x))


def test_zero_rate_trains_like_the_plain_head():
    head = DropoutLinearClsHead(
        num_classes=10, in_channels=8, dropout_rate=0.).train()
    x = torch.rand(4, 8)
    torch.testing.assert_close(head((x, )), head.fc(x))


def test_default_rate_is_the_authors_0_2():
    assert DropoutLinearClsHead(10, 8).dropout.p == 0.2


@pytest.mark.parametrize('rate', [1.0, -0.1, 1.5])
def test_rejects_rates_outside_0_1(rate):
    with pytest.raises(ValueError, match=r'dropout_rate must be in \[0, 1\)'):
        DropoutLinearClsHead(10, 8, dropout_rate=rate)


def test_loads_plain_linear_head_checkpoints():
    plain = LinearClsHead(num_classes=10, in_channels=8)
    head = DropoutLinearClsHead(num_classes=10, in_channels=8)
    assert head.state_dict().keys() == plain.state_dict().keys()
    head.load_state_dict(plain.state_dict(), strict=True)
    x = torch.rand(3, 8)
    torch.testing.assert_close(head.eval()((x, )), plain((x, )))


def test_builds_from_a_config_and_computes_a_loss():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    head = MODELS.build(
        dict(type='DropoutLinearClsHead', num_classes=3, in_channels=8))
    assert isinstance(head, DropoutLinearClsHead)
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    losses = head.loss((torch.rand(3, 8), ), samples)
    assert losses['loss'].ndim == 0 and losses['loss'] > 0
