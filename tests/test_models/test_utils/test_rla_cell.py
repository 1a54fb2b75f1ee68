import pytest
import torch
import torch.nn as nn

from mmrla.models import RLAMobileNetV2, RLAResNet
from mmrla.models.utils import RLACell, build_rla_cell, rla_step
from mmrla.registry import MODELS


def test_rla_step_is_the_papers_recurrence():
    torch.manual_seed(0)
    cell = RLACell(4)
    own, shared = cell.build_own().eval(), cell.build_shared()
    own.running_mean.uniform_(-1, 1)
    h = torch.randn(2, 4, 6, 6)
    update = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        out = rla_step(cell, h, update, 2, own, shared)
        pooled = nn.functional.avg_pool2d(h, 2)
        expected = shared(torch.tanh(own(pooled + update)))
    torch.testing.assert_close(out, expected)
    # The zero state at the stem is a sum with zeros.
    with torch.no_grad():
        first = rla_step(cell, None, update, 1, own, shared)
    torch.testing.assert_close(first, shared(torch.tanh(own(update))))


def test_cell_builds_its_modules_from_the_backbone_configs():
    cell = build_rla_cell(None, 8, dict(type='ConvWS'),
                          dict(type='GN', num_groups=2))
    assert isinstance(cell, RLACell)
    assert isinstance(cell.build_own(), nn.GroupNorm)
    shared = cell.build_shared()
    assert type(shared).__name__ == 'ConvWS2d' and shared.groups == 1
    depthwise = build_rla_cell(
        None, 8, None, dict(type='BN'), depthwise=True).build_shared()
    assert depthwise.groups == 8 and depthwise.bias is None


@MODELS.register_module()
class _ToyCell(RLACell):
    """A researcher's variant: sigmoid instead of tanh, counting steps."""
    calls = 0

    def __call__(self, h, update, own, shared):
        type(self).calls += 1
        return shared(torch.sigmoid(own(h + update)))


@pytest.mark.parametrize('build,steps', [
    (lambda **kw: RLAResNet(depth=50, **kw), 3 + 4 + 6 + 3),
    (lambda **kw: RLAMobileNetV2(**kw), 1 + 2 + 3 + 4 + 3 + 3 + 1),
])
def test_swapping_the_cell_changes_every_backbone(build, steps):
    torch.manual_seed(0)
    default = build().eval()
    toy = build(cell_cfg=dict(type='_ToyCell')).eval()
    # Same modules in the same places: a checkpoint moves between them.
    toy.load_state_dict(default.state_dict())
    x = torch.rand(1, 3, 64, 64)
    _ToyCell.calls = 0
    with torch.no_grad():
        (out_default, ), (out_toy, ) = default(x), toy(x)
    assert _ToyCell.calls == steps  # one step per block
    assert out_toy.shape == out_default.shape
    assert not torch.allclose(out_toy, out_default)


def test_update_after_the_cell():
    torch.manual_seed(0)
    cell = RLACell(4)
    own, shared = cell.build_own().eval(), cell.build_shared()
    h, update = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        out = rla_step(cell, h, update, 2, own, shared, 'after')
        expected = shared(torch.tanh(own(nn.functional.avg_pool2d(h, 2))))
        # The zero state is materialized: norm(0) is not 0.
        first = rla_step(cell, None, update, 1, own, shared, 'after')
        zero = shared(torch.tanh(own(torch.zeros_like(update))))
    torch.testing.assert_close(out, expected + update)
    torch.testing.assert_close(first, zero + update)


def test_convlstm_cell_pools_both_states_and_reads_out_h():
    torch.manual_seed(0)
    cell = build_rla_cell(dict(type='ConvLSTMCell'), 4, None, dict(type='BN'))
    own, shared = cell.build_own().eval(), cell.build_shared()
    assert shared.weight.shape == (16, 8, 3, 3) and shared.bias is None
    h, c = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    update = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        new_h, new_c = rla_step(cell, (h, c), update, 2, own, shared)
        z = torch.tanh(own(update))
        hp, cp = (nn.functional.avg_pool2d(t, 2) for t in (h, c))
        i, f, o, g = shared(torch.cat([z, hp], 1)).chunk(4, 1)
        c_ref = f.sigmoid() * cp + i.sigmoid() * g.tanh()
    torch.testing.assert_close(new_c, c_ref)
    torch.testing.assert_close(new_h, o.sigmoid() * c_ref.tanh())
    assert cell.hidden((new_h, new_c)) is new_h and cell.hidden(None) is None


def test_convgru_cell_uses_mmcv_group_norms():
    cell = build_rla_cell(dict(type='ConvGRUCell'), 4, None, dict(type='BN'))
    shared = cell.build_shared()
    norm = shared.reset_gate_norm
    assert isinstance(norm, nn.GroupNorm) and norm.num_groups == 1
    assert norm.eps == 1e-6
    assert shared.gate_conv.bias.shape == (8, )
    assert shared.output_conv.weight.shape == (4, 8, 3, 3)


def test_a_state_tuple_cell_runs_in_rla_mobilenet_v2_with_a_dense_conv():
    # ConvLSTM has no depthwise form; with depthwise=False it serves
    # RLAMobileNetV2 too, whose blocks read h through cell.hidden().
    model = RLAMobileNetV2(
        cell_cfg=dict(type='ConvLSTMCell', depthwise=False),
        out_indices=(2, 7)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 33, 31))
    assert [o.shape[1] for o in outs] == [32, 1280]
    with pytest.raises(ValueError, match='no depthwise form'):
        RLAMobileNetV2(cell_cfg=dict(type='ConvLSTMCell'))
