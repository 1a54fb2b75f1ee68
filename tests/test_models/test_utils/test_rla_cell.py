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


def test_deployed_cell_uses_the_fast_tanh_within_rounding():
    torch.manual_seed(0)
    cell = RLACell(32)
    own, shared = cell.build_own().eval(), cell.build_shared()
    h, update = torch.randn(2, 32, 16, 16), torch.randn(2, 32, 16, 16)
    with torch.no_grad():
        plain = rla_step(cell, h, update, 1, own, shared)
        cell.deploy = True
        fast = rla_step(cell, h, update, 1, own, shared)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)


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
