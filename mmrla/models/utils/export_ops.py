"""Ops that export to ONNX in the form ONNX Runtime runs fastest, for the
inference forms of the RLA backbones (``switch_to_deploy()``).

Each is an op-level twin: one implementation in PyTorch, another with the
same values in the ONNX graph (an autograd Function with a ``symbolic``).
With them, and with the first step taken from the update alone
(:func:`export_step`), ONNX Runtime runs a deployed backbone in its
blocked NCHWc layout, where each sum and activation fuses into the
convolution before it (docs/deployment.md, "Speed of the deployed
models").
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fold import norm_as_affine
from .rla_cell import State, pool_hidden_state, rla_step


class SplitConv1x1(torch.autograd.Function):
    """``conv2d(x, weight, bias).split([first, rest], dim=1)`` for a 1x1
    conv of stride 1: one convolution in PyTorch, which reads ``x`` once; in
    ONNX, one Conv per part (the weights sliced, constant-folded on export).
    ONNX Runtime has no NCHWc Split, so a Split would send the stacked
    output back to NCHW and keep each part from fusing with its consumer.

    Example:
        >>> import torch
        >>> x, w, b = torch.rand(1, 4, 3, 3), torch.rand(6, 4, 1, 1), None
        >>> a, u = SplitConv1x1.apply(x, w, b, 4)
        >>> a.shape, u.shape
        (torch.Size([1, 4, 3, 3]), torch.Size([1, 2, 3, 3]))
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor],
                first: int) -> Tuple[torch.Tensor, torch.Tensor]:
        ctx.save_for_backward(x, weight)
        ctx.with_bias = bias is not None
        return tuple(
            F.conv2d(x, weight, bias).split((first, weight.shape[0] - first),
                                            dim=1))

    @staticmethod
    def backward(ctx, grad_first: torch.Tensor, grad_rest: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad = torch.cat([grad_first, grad_rest], dim=1)
        return (torch.nn.grad.conv2d_input(x.shape, weight, grad),
                torch.nn.grad.conv2d_weight(x, weight.shape, grad),
                grad.sum((0, 2, 3)) if ctx.with_bias else None, None)

    @staticmethod
    def symbolic(g, x, weight, bias, first: int):

        def part(value, start, end):
            return g.op('Slice', value,
                        g.op('Constant', value_t=torch.tensor([start])),
                        g.op('Constant', value_t=torch.tensor([end])),
                        g.op('Constant', value_t=torch.tensor([0])))

        end = 2**62  # to the end
        convs = []
        for start, stop in ((0, first), (first, end)):
            inputs = [x, part(weight, start, stop)]
            if not (bias is None or bias.node().mustBeNone()):
                inputs.append(part(bias, start, stop))
            convs.append(g.op('Conv', *inputs, kernel_shape_i=[1, 1]))
        return tuple(convs)


class HiddenStatePool(torch.autograd.Function):
    """:func:`~mmrla.models.utils.rla_cell.pool_hidden_state` of a stride
    ``s``, exported as ``AveragePool`` with end pads ``s - 1`` and
    ``count_include_pad=0`` instead of ``ceil_mode``: the same windows and
    divisors, ``ceil(H / s)`` rows. ONNX Runtime follows the sizes through
    that form (a window of ``pads + 1`` keeps them), so the sums of the
    pooled state with the convs of the stage still fuse with them.

    Example:
        >>> import torch
        >>> HiddenStatePool.apply(torch.rand(1, 8, 7, 6), 2).shape
        torch.Size([1, 8, 4, 3])
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, stride: int) -> torch.Tensor:
        ctx.save_for_backward(h)
        ctx.stride = stride
        return pool_hidden_state(h, stride)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, = ctx.saved_tensors
        size = [ctx.stride] * 2
        return torch.ops.aten.avg_pool2d_backward(grad, h, size, size, [0, 0],
                                                  True, False, None), None

    @staticmethod
    def symbolic(g, h, stride: int):
        return g.op(
            'AveragePool',
            h,
            kernel_shape_i=[stride, stride],
            strides_i=[stride, stride],
            pads_i=[0, 0, stride - 1, stride - 1],
            count_include_pad_i=0)


class ChannelAffine(torch.autograd.Function):
    """``scale * x + shift`` per channel (an eval-mode batch norm, folded):
    PyTorch's batch norm kernel in PyTorch; in ONNX a depthwise 1x1 Conv.
    ONNX Runtime's NCHWc layout takes BatchNormalization up to opset 9
    only, a depthwise conv at every opset (with the tanh after it fused).

    Example:
        >>> import torch
        >>> x = torch.rand(1, 2, 3, 3)
        >>> scale, shift = torch.rand(2), torch.rand(2)
        >>> y = ChannelAffine.apply(x, scale, shift)
        >>> bool(torch.allclose(y, scale.view(-1, 1, 1) * x +
        ...                     shift.view(-1, 1, 1)))
        True
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor,
                shift: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, scale)
        return F.batch_norm(x, torch.zeros_like(scale), torch.ones_like(scale),
                            scale, shift, False, 0., 0.)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, scale = ctx.saved_tensors
        return (grad * scale.view(-1, 1, 1), (grad * x).sum(
            (0, 2, 3)), grad.sum((0, 2, 3)))

    @staticmethod
    def symbolic(g, x, scale, shift):
        weight = g.op('Reshape', scale,
                      g.op('Constant', value_t=torch.tensor([-1, 1, 1, 1])))
        groups = scale.type().sizes()[0]
        return g.op(
            'Conv', x, weight, shift, kernel_shape_i=[1, 1], group_i=groups)


class AffineNorm(nn.Module):
    """An eval-mode batch norm as :class:`ChannelAffine`.

    Args:
        scale (Tensor): Scale per channel, shape (C, ).
        shift (Tensor): Shift per channel, shape (C, ).
    """

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer('scale', scale.detach().clone())
        self.register_buffer('shift', shift.detach().clone())

    @classmethod
    def of(cls, norm: nn.Module) -> Optional['AffineNorm']:
        """The :class:`AffineNorm` of ``norm``, a batch norm in eval mode
        with running statistics; None for another norm (see
        :func:`~mmrla.models.utils.fold.norm_as_affine`).

        Example:
            >>> import torch
            >>> norm = torch.nn.BatchNorm2d(4).eval()
            >>> x = torch.rand(1, 4, 2, 2)
            >>> bool(torch.allclose(AffineNorm.of(norm)(x), norm(x)))
            True
        """
        affine = norm_as_affine(norm)
        return None if affine is None else cls(*affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ChannelAffine.apply(x, self.scale, self.shift)


def export_step(cell,
                state: Optional[State],
                update: torch.Tensor,
                stride: int,
                own: nn.Module,
                shared: nn.Module,
                affine: Optional[nn.Module] = None,
                position: str = 'before',
                dense_pool: tuple = (1, 1)) -> State:
    """:func:`~mmrla.models.utils.rla_cell.rla_step`, with the pooling of a
    strided block as :class:`HiddenStatePool` and, from a state, the norm
    as ``affine`` (an :class:`AffineNorm` of ``own``; None: ``own``).

    From the zero state, a cell that steps ``h + update`` (one that also
    steps without input, e.g. :class:`RLACell`) steps ``update`` alone: the
    zero tensor would add nothing, and in ONNX Runtime it would not run in
    NCHWc. That first norm stays ``own``: it follows the update conv, into
    which ONNX Runtime folds it.

    Example:
        >>> import torch
        >>> from mmrla.models.utils import RLACell
        >>> cell = RLACell(8)
        >>> own, shared = cell.build_own().eval(), cell.build_shared()
        >>> u = torch.rand(1, 8, 6, 6)
        >>> h = export_step(cell, None, u, 1, own, shared)
        >>> bool(torch.allclose(h, rla_step(cell, None, u, 1, own, shared)))
        True
    """
    if state is None and position == 'before' and cell.steps_without_input:
        return cell(update, None, own, shared)  # cell(h) with h = update
    if torch.is_tensor(state) and stride > 1:
        state, stride = HiddenStatePool.apply(state, stride), 1
    return rla_step(cell, state, update, stride, affine or own, shared,
                    position, dense_pool)
