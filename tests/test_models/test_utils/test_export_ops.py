import torch
import torch.nn.functional as F

from mmrla.models.utils import pool_hidden_state
from mmrla.models.utils.export_ops import (ChannelAffine, HiddenStatePool,
                                           SplitConv1x1)


def test_deployed_ops_compute_and_differentiate_as_they_stand_for():
    # The ops of the inference form that export to other ONNX ops: a conv
    # per part, an end-padded pooling, a depthwise conv.
    torch.manual_seed(0)
    x = torch.rand(2, 6, 7, 5, dtype=torch.double, requires_grad=True)
    w = torch.rand(5, 6, 1, 1, dtype=torch.double, requires_grad=True)
    b, scale, shift = (
        torch.rand(n, dtype=torch.double, requires_grad=True)
        for n in (5, 6, 6))
    parts = SplitConv1x1.apply(x, w, b, 3)
    assert [p.shape[1] for p in parts] == [3, 2]
    cases = [
        ((x, w, b), torch.cat(parts, 1), F.conv2d(x, w, b)),
        ((x, ), HiddenStatePool.apply(x, 2), pool_hidden_state(x, 2)),
        ((x, scale, shift), ChannelAffine.apply(x, scale, shift),
         x * scale.view(-1, 1, 1) + shift.view(-1, 1, 1)),
    ]
    for inputs, out, expected in cases:
        torch.testing.assert_close(out, expected)
        grad = torch.rand_like(out)
        torch.testing.assert_close(
            torch.autograd.grad(out, inputs, grad),
            torch.autograd.grad(expected, inputs, grad))
