"""The inference form of RLA-ResNet's bottlenecks (built by
``RLAResNet.switch_to_deploy()``; docs/performance.md measures it).

With ``rla_source='output'``, block t's update conv and block t+1's
``conv1`` read the same tensor, block t's output: the update is
``U out`` and block t+1's ``conv1(cat(out, h))`` is ``W_x out + W_h h``
(the conv over a concatenation is the sum of the convs over its parts).
So one 1x1 conv with the stacked weights ``[W_x; U]`` computes ``W_x out``
and the update together, and block t+1 adds ``W_h h`` once ``h`` has
stepped. That reads ``out`` once instead of twice, and the ``C + k``
channel copy ``cat(out, h)`` is never written.

The zero state before the first block is left out, and three ops export to
ONNX in the form that ONNX Runtime runs fastest, with the same values
(:class:`SplitConv1x1`, :class:`HiddenStatePool`, :class:`ChannelAffine`:
op-level twins, one implementation in PyTorch and another in the graph).
Then the whole graph runs in ONNX Runtime's blocked NCHWc layout, where
each sum and activation fuses into the convolution before it
(docs/deployment.md, "Speed of the deployed models").
"""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..utils.fold import norm_as_affine
from ..utils.rla_cell import State, pool_hidden_state, rla_step


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
        norm (nn.Module): A batch norm in eval mode with running
            statistics (see :func:`~mmrla.models.utils.fold.norm_as_affine`).
    """

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        scale, shift = norm_as_affine(norm)
        self.register_buffer('scale', scale.detach().clone())
        self.register_buffer('shift', shift.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ChannelAffine.apply(x, self.scale, self.shift)


class Carry(NamedTuple):
    """What a deployed block passes to the next one: the cell's state and
    the next block's ``W_x out`` (bias included), computed with the update
    in one convolution."""
    state: State
    conv1_x: torch.Tensor


def _conv1x1(weight: torch.Tensor,
             bias: Optional[torch.Tensor],
             like: nn.Conv2d = None) -> nn.Conv2d:
    """A conv holding ``weight`` and ``bias`` (copies), with the stride of
    ``like`` (a 1x1 conv of stride 1 without it)."""
    conv = nn.Conv2d(
        weight.shape[1],
        weight.shape[0],
        1,
        stride=1 if like is None else like.stride,
        bias=bias is not None).to(weight)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


def _plain_1x1(conv: nn.Module, stride_one: bool = True) -> bool:
    """Whether ``conv`` is a plain dense 1x1 ``nn.Conv2d`` (of stride 1
    when ``stride_one``), whose weight can be split and stacked."""
    return type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and \
        conv.groups == 1 and conv.padding == (0, 0) and \
        (not stride_one or conv.stride == (1, 1))


def _bottleneck(block: nn.Module,
                bottleneck: type,
                receives: bool = False) -> bool:
    """Whether ``block`` is a ``bottleneck`` without plugins whose
    ``conv1`` can be split (and, to receive a stacked ``W_x out``, runs at
    stride 1)."""
    return isinstance(block, bottleneck) and not (
        block.after_conv1_plugin_names or block.after_conv2_plugin_names
        or block.after_conv3_plugin_names) and \
        _plain_1x1(block.conv1, stride_one=receives)


class RLABottleneckDeploy(nn.Module):
    """An RLA bottleneck in its inference form.

    ``conv1`` runs as ``W_x x + W_h h``; where the block before stacked
    this block's ``W_x`` with its update conv, ``W_x x`` arrives in a
    :class:`Carry`, and where ``next_conv1`` is given this block's update
    conv is stacked with it in turn. The rest of the block is the block's
    own modules (their norms folded by ``switch_to_deploy()``; the block
    has no plugins).

    Args:
        block (RLABottleneck): The block, in eval mode.
        update (nn.Conv2d, optional): This block's update conv, to stack.
        next_conv1 (nn.Conv2d, optional): The next block's ``conv1``
            (over ``C + k`` channels), to stack; None: nothing is stacked
            and the update conv runs as in the block.

    Example:
        >>> import torch
        >>> from mmrla.models.backbones.rla_resnet import RLABottleneck
        >>> a = RLABottleneck(64, 64, rla_channel=8).eval()
        >>> b = RLABottleneck(64, 64, rla_channel=8).eval()
        >>> u = torch.nn.Conv2d(64, 8, 1, bias=False)
        >>> r = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        >>> x = torch.rand(1, 64, 5, 5)
        >>> with torch.no_grad():
        ...     y, h = b(*a(x, None, u, r), u, r)
        ...     da = RLABottleneckDeploy(a, u, b.conv1)
        ...     db = RLABottleneckDeploy(b)
        ...     z, g = db(*da(x, None, u, r), u, r)
        >>> bool(torch.allclose(y, z, atol=1e-5))
        True
    """

    def __init__(self,
                 block: nn.Module,
                 update: Optional[nn.Conv2d] = None,
                 next_conv1: Optional[nn.Conv2d] = None) -> None:
        super().__init__()
        self.block = block
        weight, bias = block.conv1.weight, block.conv1.bias
        c_in = block.in_channels
        self.conv1_x = _conv1x1(weight[:, :c_in], bias, block.conv1)
        self.conv1_h = _conv1x1(weight[:, c_in:], None, block.conv1) \
            if block.hidden_channels else None
        # The norm of the steps from a state (the first block's, from the
        # zero state, ONNX Runtime folds into its update conv).
        self.rla_norm = AffineNorm(block.rla_norm) \
            if norm_as_affine(block.rla_norm) is not None else None
        self.stacked = self.split = None
        if next_conv1 is not None:
            mid = next_conv1.out_channels
            next_x = next_conv1.weight[:, :next_conv1.in_channels -
                                       block.hidden_channels]
            next_bias = next_conv1.bias if next_conv1.bias is not None \
                else next_x.new_zeros(mid)
            self.stacked = _conv1x1(
                torch.cat([next_x, update.weight]),
                torch.cat([next_bias,
                           next_x.new_zeros(update.out_channels)]))
            self.split = (mid, update.out_channels)

    def forward(
            self, x: torch.Tensor, state, out_conv: Optional[nn.Module],
            shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """The block's eval-mode forward. ``state`` may be a
        :class:`Carry` from the block before; ``out_conv`` is not called
        where this block's update conv is stacked (its weights are in
        ``stacked``)."""
        block = self.block
        conv1_x = None
        if isinstance(state, Carry):
            state, conv1_x = state
        if conv1_x is None:
            conv1_x = self.conv1_x(x)
        hidden = block.rla_cell.hidden(state)
        if self.conv1_h is not None and hidden is not None:
            conv1_x = self.conv1_h(hidden).add_(conv1_x)
        out = block.relu(block.norm1(conv1_x))
        out = block.relu(block.norm2(block.conv2(out)))
        branch = block.norm3(block.conv3(out))
        identity = x if block.downsample is None else block.downsample(x)
        if block.se is not None:
            branch = block.se(branch)
        if block.eca is not None:
            branch = block.eca(branch)
        if block.rla_norm is not None and block.rla_source == 'residual':
            out = block.relu(branch + identity)
        else:  # in place: nothing reads the branch after the sum
            out = block.relu(branch.add_(identity))
        if block.rla_norm is None:
            return out, None
        if self.stacked is None:
            source = dict(output=out, residual=branch, shortcut=identity)
            return out, self._step(state, out_conv(source[block.rla_source]),
                                   shared)
        next_x, update = SplitConv1x1.apply(out, self.stacked.weight,
                                            self.stacked.bias, self.split[0])
        return out, Carry(self._step(state, update, shared), next_x)

    def _step(self, state: Optional[State], update: torch.Tensor,
              shared: Optional[nn.Module]) -> State:
        """The block's RLA step, with the pooling of a strided block as
        :class:`HiddenStatePool` and the batch norm as :class:`AffineNorm`.
        From the zero state, a cell that steps ``h + update`` (one that
        also steps without input, e.g. :class:`RLACell`) steps ``update``
        alone: the zero tensor would add nothing, and in ONNX Runtime it
        would not run in NCHWc."""
        block, cell, own = self.block, self.block.rla_cell, \
            self.block.rla_norm
        if state is None and block.update_position == 'before' and \
                cell.steps_without_input:
            return cell(update, None, own, shared)  # cell(h) with h = update
        stride = block.stride
        if torch.is_tensor(state) and stride > 1:
            state, stride = HiddenStatePool.apply(state, stride), 1
        return rla_step(cell, state, update, stride, self.rla_norm or own,
                        shared, block.update_position, block.hidden_pool)


def stack_update_convs(backbone: nn.Module, bottleneck: type) -> None:
    """Replace the bottlenecks (blocks of type ``bottleneck``) of an
    eval-mode ``RLAResNet`` by their :class:`RLABottleneckDeploy`, stacking
    each update conv with the next block's ``conv1`` where both are plain
    1x1 convs and the update reads the block output."""
    places = [(i, j) for i in range(backbone.num_stages)
              for j in range(len(getattr(backbone, f'layer{i + 1}')))]

    def block(place):
        return getattr(backbone, f'layer{place[0] + 1}')[place[1]]

    def update_conv(place):
        return backbone._block_rla_modules(*place)[0]

    stacks = [
        block(p).rla_norm is not None and block(p).rla_source == 'output'
        and _bottleneck(block(p), bottleneck)
        and _bottleneck(block(q), bottleneck, receives=True)
        and _plain_1x1(update_conv(p)) and update_conv(p).bias is None
        for p, q in zip(places, places[1:])
    ] + [False]
    for n, place in enumerate(places):
        if stacks[n] or (n and stacks[n - 1]):
            layer = getattr(backbone, f'layer{place[0] + 1}')
            layer[place[1]] = RLABottleneckDeploy(
                block(place),
                update_conv(place) if stacks[n] else None,
                block(places[n + 1]).conv1 if stacks[n] else None)
