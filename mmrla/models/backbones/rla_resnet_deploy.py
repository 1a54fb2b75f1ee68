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

from ..utils.export_ops import AffineNorm, SplitConv1x1, export_step
from ..utils.rla_cell import State


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
        self.rla_affine = AffineNorm.of(block.rla_norm)
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
        """The block's RLA step, in the form that exports best
        (:func:`~mmrla.models.utils.export_ops.export_step`)."""
        block = self.block
        return export_step(block.rla_cell, state, update, block.stride,
                           block.rla_norm, shared, self.rla_affine,
                           block.update_position, block.hidden_pool)


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
