import pytest
import torch
import torch.nn as nn
from torch._dynamo.testing import CompileCounter

from mmrla.engine import CompileBackboneHook
from mmrla.models.backbones import RLAResNet
from mmrla.registry import HOOKS


class _Neck(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(512, 8, 1)

    def forward(self, x):
        return self.conv(x).relu()


class _Detector(nn.Module):
    """A backbone, a neck and a head that dynamo is not asked to trace."""

    def __init__(self):
        super().__init__()
        self.backbone = RLAResNet(18, out_indices=(2, 3), concat_hidden=False)
        self.neck = _Neck()
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)[-1]))


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_compiles_backbone_and_neck_in_place():
    torch.manual_seed(0)
    model = _Detector()
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    keys = list(model.state_dict())
    counter = CompileCounter()
    hook = HOOKS.build(dict(type='CompileBackboneHook', backend=counter))
    assert hook.compile_modules(model) == ['backbone', 'neck']
    # The parameters and the checkpoint layout stay as they are.
    assert list(model.state_dict()) == keys
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert counter.frame_count == 2  # one graph each; the head runs eager
    model(x)
    assert counter.frame_count == 2
    # A second run (e.g. tools/test.py after training) compiles nothing.
    assert hook.compile_modules(model) == []


def test_bad_arguments_are_explained():
    with pytest.raises(
            ValueError,
            match=r"has no \['neck'\] to compile; "
            r"set modules= to some of \['backbone'\]"):
        model = nn.Module()
        model.backbone = nn.Conv2d(3, 3, 1)
        CompileBackboneHook(backend='eager').compile_modules(model)
    with pytest.raises(ValueError, match='non-empty list of submodule'):
        CompileBackboneHook(modules='backbone')
