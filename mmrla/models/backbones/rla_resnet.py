"""RLA-ResNet: ResNet with Recurrent Layer Aggregation (Zhao et al., 2021).

The hidden state ``h`` (``rla_channel`` = k channels) starts at zero at the
stem's resolution. Each block sees ``cat(x, h)`` at its first conv; its
output goes through the stage's *shared* 1x1 conv (C -> k) and is added to
``h`` (pooled first when the block strides); then ``h`` passes the block's
own norm, tanh and the stage's *shared* 3x3 conv.

Every variant of the paper's ablation (Tables 11 and 15) is an argument of
:class:`RLAResNet`: the recurrent unit (``cell_cfg``), what feeds the 1x1
conv (``rla_source``) and where its output enters (``update_position``),
per-block instead of shared convs (``share_rla_convs``), no hidden state in
the main network (``exchange``) and the classifier's read-out of ``h``
(``readout``). See ``configs/ablations/``.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.utils import SELayer

from mmrla.registry import MODELS
from ..utils import (UPDATE_POSITIONS, ECALayer, RLACell, build_rla_cell,
                     check_choice, conv_over_concat, rla_step)
from ..utils.concat_conv import keep_split_weights, kept_split_weights
from ..utils.rla_cell import State
from .base import (DEFAULT_INIT_CFG, RLABackbone, build_update_conv,
                   checkpointed)

# What feeds a block's update conv: the block output (released code), the
# residual branch (paper's Figure 3) or the shortcut (Figure 4, v5/v6).
RLA_SOURCES = ('output', 'residual', 'shortcut')


def build_block_cell(cell_cfg: Optional[dict], rla_channel: int,
                     conv_cfg: Optional[dict], norm_cfg: dict, rla_source: str,
                     update_position: str, exchange: bool,
                     concat_hidden: bool) -> RLACell:
    """Check the RLA options of the :class:`_RLABlock` backbones and build
    their cell type (see :func:`~mmrla.models.utils.build_rla_cell`).

    Raises:
        ValueError: For an unknown source, position or cell, and for the
            combinations that cannot work, naming the valid choices.
    """
    check_choice(rla_source, RLA_SOURCES, 'rla_source')
    check_choice(update_position, UPDATE_POSITIONS, 'update_position')
    if not exchange and not concat_hidden:
        raise ValueError(
            'exchange=False keeps h out of the main network, so only the '
            'classifier reads it; with concat_hidden=False nothing would '
            '(its parameters would get no gradient). Use exchange=True '
            'or concat_hidden=True.')
    cell = build_rla_cell(cell_cfg, rla_channel, conv_cfg, norm_cfg)
    if update_position == 'after' and not cell.steps_without_input:
        raise ValueError(
            f"update_position='after' adds the update after the cell, "
            f'but {type(cell).__name__} takes the update as its '
            "input; use update_position='before' or a cell that steps "
            'without input (RLACell, PostActRLACell).')
    return cell


class _RLABlock(BaseModule):
    """Shared logic of the RLA residual blocks.

    Subclasses build ``conv1`` (over ``C_in + k`` channels), ``norm1`` ...
    and implement :meth:`_branch_before_last_norm`, which maps ``(x, h)``
    to the branch output before its last norm (``last_norm``) and attention
    module (or override :meth:`_residual_branch`, norm included).
    Pre-activation blocks also override :meth:`_branch_and_shortcut` and set
    ``act_after_sum = False``.

    Args:
        in_channels (int): Channels of ``x`` (``h`` not included).
        out_channels (int): Output channels of the block.
        rla_channel (int): Channels ``k`` of the hidden state.
        stride (int): Stride of the block's spatial conv and shortcut.
        downsample (nn.Module, optional): Shortcut projection.
        rla_cell (RLACell, optional): The cell type of the recurrence; the
            block owns the cell's per-block module (``rla_norm`` for
            :class:`RLACell`). Defaults to ``RLACell(rla_channel)``.
        with_rla_update (bool): Whether this block updates ``h``. Only the
            very last block of a detection backbone skips it, since nothing
            would consume its update.
        se_ratio (int, optional): Squeeze ratio of an SE layer after the
            branch; None for no SE.
        eca_kernel_size (int, optional): Kernel size of an ECA layer after
            the branch; None for no ECA.
        rla_source (str): What feeds the shared 1x1 conv: ``'output'``, the
            block output after the residual sum and activation, as in the
            authors' released code and weights; ``'residual'``, the
            residual branch alone, as drawn in the paper's Figure 3; or
            ``'shortcut'``, the identity (or its projection), Figure 4 v5/v6.
        update_position (str): ``'before'``: ``h <- cell(h + update)``;
            ``'after'``: ``h <- cell(h) + update`` (Figure 4 v2/v4/v6).
        share_rla_convs (bool): Whether the backbone passes the stage's
            shared 1x1 conv and cell module. If False, the block owns them
            (``rla_out_conv``, ``rla_recurrent_conv``), the paper's
            unshared ablation (b).
        exchange (bool): Whether ``h`` enters the block's first conv. False
            is the paper's ablation (c), RLA without information exchange.
        with_cp (bool): Use gradient checkpointing for the block.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activation.
        init_cfg (dict, optional): Initialization config.
    """

    expansion = 1
    # Whether the activation follows the residual sum (False in
    # pre-activation blocks, whose sum is the block output).
    act_after_sum = True

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 rla_cell: Optional[RLACell] = None,
                 with_rla_update: bool = True,
                 se_ratio: Optional[int] = None,
                 eca_kernel_size: Optional[int] = None,
                 rla_source: str = 'output',
                 update_position: str = 'before',
                 share_rla_convs: bool = True,
                 exchange: bool = True,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rla_channel = rla_channel
        # Channels of h in the first conv's input.
        self.hidden_channels = rla_channel if exchange else 0
        self.stride = stride
        self.rla_source = rla_source
        self.update_position = update_position
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        self.se = SELayer(
            out_channels, ratio=se_ratio, bias=False) if se_ratio else None
        self.eca = ECALayer(out_channels,
                            eca_kernel_size) if eca_kernel_size else None
        self.rla_cell = rla_cell or RLACell(
            rla_channel, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        # The cell's per-block module (unshared), e.g. its norm.
        self.rla_norm = self.rla_cell.build_own() if with_rla_update else None
        own_convs = with_rla_update and not share_rla_convs
        self.rla_out_conv = build_update_conv(
            conv_cfg, out_channels, rla_channel) if own_convs else None
        self.rla_recurrent_conv = self.rla_cell.build_shared() \
            if own_convs else None

    @property
    def zero_init_layer(self) -> nn.Module:
        """The layer that ``zero_init_residual`` zeroes, so that the block
        starts as its shortcut: the branch's last norm."""
        return self.last_norm

    def _residual_branch(self, x: torch.Tensor,
                         h: Optional[torch.Tensor]) -> torch.Tensor:
        """The residual branch: ``last_norm`` after
        :meth:`_branch_before_last_norm`."""
        return self.last_norm(self._branch_before_last_norm(x, h))

    def _branch_before_last_norm(self, x: torch.Tensor,
                                 h: Optional[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def _branch_and_shortcut(
            self, x: torch.Tensor,
            h: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The residual branch (before SE/ECA) and the shortcut of ``x``.
        Pre-activation blocks override it to feed both from one norm and
        activation of ``x``."""
        branch = self._residual_branch(x, h)
        return branch, x if self.downsample is None else self.downsample(x)

    def _conv1(self, x: torch.Tensor,
               h: Optional[torch.Tensor]) -> torch.Tensor:
        """``conv1(cat(x, h))``; ``h=None`` stands for the zero state.
        Without exchange, ``conv1(x)``."""
        if not self.hidden_channels:
            return self.conv1(x)
        return conv_over_concat(self.conv1, [x, h],
                                [self.in_channels, self.rla_channel],
                                self.rla_cell.fast,
                                kept_split_weights(self, 'conv1_split'))

    def _rla_modules(
        self, out_conv: Optional[nn.Module], shared: Optional[nn.Module]
    ) -> Tuple[Optional[nn.Module], Optional[nn.Module]]:
        """The update conv and cell module this block steps with: its own
        (unshared convs) or the stage's ``out_conv`` and ``shared``."""
        if self.rla_out_conv is not None:
            return self.rla_out_conv, self.rla_recurrent_conv
        return out_conv, shared

    def _step(self, h: Optional[State], update: torch.Tensor,
              shared: Optional[nn.Module]) -> State:
        """This block's RLA step from the state before it."""
        return rla_step(self.rla_cell, h, update, self.stride, self.rla_norm,
                        shared, self.update_position)

    def switch_to_deploy(self) -> None:
        """Keep ``conv1``'s weight split by part instead of slicing it per
        call (inference only)."""
        if self.hidden_channels:
            keep_split_weights(self, 'conv1_split', self.conv1.weight,
                               [self.in_channels, self.rla_channel], 1)

    def forward(
            self, x: torch.Tensor, h: Optional[State],
            out_conv: Optional[nn.Module], shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """Run the block and one RLA step.

        Args:
            x (Tensor): Block input, shape (N, C_in, H, W).
            h (Tensor | tuple, optional): The cell's state, shape
                (N, k, H, W) (a tuple ``(h, c)`` for ConvLSTMCell); None for
                the initial all-zero state.
            out_conv (nn.Module, optional): The stage's shared 1x1 conv
                (C_out -> k); None when the block owns one.
            shared (nn.Module, optional): The stage's shared module of the
                cell (the recurrent 3x3 conv for :class:`RLACell`); None
                when the block owns one.

        Returns:
            tuple: The block output (N, C_out, H', W') and the new state
            (N, k, H', W'), None when this block does not update it.
        """
        out_conv, shared = self._rla_modules(out_conv, shared)

        def _inner_forward(x, h):
            branch, identity = self._branch_and_shortcut(
                x, self.rla_cell.hidden(h))
            if self.se is not None:
                branch = self.se(branch)
            if self.eca is not None:
                branch = self.eca(branch)
            out = branch + identity
            if self.act_after_sum:
                out = self.relu(out)
            if self.rla_norm is None:
                return out, None
            source = dict(output=out, residual=branch, shortcut=identity)
            return out, self._step(h, out_conv(source[self.rla_source]),
                                   shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


class RLABasicBlock(_RLABlock):
    """RLA basic block: two 3x3 convs, the first over ``cat(x, h)``.

    This is the form of the paper's CIFAR RLA-ResNet-110; see
    :class:`_RLABlock` for the arguments. ``groups`` and ``base_width`` are
    accepted for interface parity and must keep their defaults.

    Example:
        >>> import torch
        >>> block = RLABasicBlock(64, 64, rla_channel=32)
        >>> out_conv = torch.nn.Conv2d(64, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 64, 9, 9), torch.zeros(2, 32, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 64, 9, 9]), torch.Size([2, 32, 9, 9])]
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 groups: int = 1,
                 base_width: int = 64,
                 **kwargs) -> None:
        if groups != 1 or base_width != 64:
            raise ValueError(
                'RLABasicBlock supports only groups=1 and base_width=64 '
                f'(got groups={groups}, base_width={base_width}); use depth '
                '50, 101 or 152 for ResNeXt-style blocks.')
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=2)
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels + self.hidden_channels,
            out_channels,
            3,
            stride=stride,
            padding=1,
            bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(
            self.conv_cfg,
            out_channels,
            out_channels,
            3,
            padding=1,
            bias=False)
        self.add_module(self.norm2_name, norm2)

    @property
    def last_norm(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    def _branch_before_last_norm(self, x: torch.Tensor,
                                 h: Optional[torch.Tensor]) -> torch.Tensor:
        out = self._conv1(x, h)
        out = self.relu(getattr(self, self.norm1_name)(out))
        return self.conv2(out)


class RLABottleneck(_RLABlock):
    """RLA bottleneck: 1x1 over ``cat(x, h)``, 3x3 (strided), 1x1.

    See :class:`_RLABlock` for the shared arguments.

    Args:
        groups (int): Groups of the 3x3 conv (ResNeXt cardinality).
        base_width (int): Width per group; the middle width is
            ``int(planes * base_width / 64) * groups`` with
            ``planes = out_channels // 4``, as in torchvision.

    Example:
        >>> import torch
        >>> downsample = torch.nn.Conv2d(64, 256, 1, bias=False)
        >>> block = RLABottleneck(64, 256, rla_channel=32,
        ...                       downsample=downsample)
        >>> out_conv = torch.nn.Conv2d(256, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 64, 9, 9), torch.zeros(2, 32, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 256, 9, 9]), torch.Size([2, 32, 9, 9])]
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 groups: int = 1,
                 base_width: int = 64,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        planes = out_channels // self.expansion
        mid_channels = int(planes * (base_width / 64.)) * groups
        self.mid_channels = mid_channels
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, mid_channels, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(
            self.norm_cfg, mid_channels, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=3)
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels + self.hidden_channels,
            mid_channels,
            1,
            bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(
            self.conv_cfg,
            mid_channels,
            mid_channels,
            3,
            stride=stride,
            padding=1,
            groups=groups,
            bias=False)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(
            self.conv_cfg, mid_channels, out_channels, 1, bias=False)
        self.add_module(self.norm3_name, norm3)

    @property
    def last_norm(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    def _branch_before_last_norm(self, x: torch.Tensor,
                                 h: Optional[torch.Tensor]) -> torch.Tensor:
        out = self._conv1(x, h)
        out = self.relu(getattr(self, self.norm1_name)(out))
        out = self.relu(getattr(self, self.norm2_name)(self.conv2(out)))
        return self.conv3(out)


class _RLABlockBackbone(RLABackbone):
    """What the backbones built of :class:`_RLABlock` stages share.

    Subclasses set ``stage_channels``, ``out_indices``, ``concat_hidden``
    and ``rla_channel``, besides what :class:`RLABackbone` needs.
    """

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature, in ``out_indices`` order."""
        channels = [self.stage_channels[i] for i in self.out_indices]
        if self.concat_hidden:
            channels[-1] += self.rla_channel
        return tuple(channels)

    def _build_shared_rla_convs(self, conv_cfg: Optional[dict]) -> None:
        """Build the modules the blocks of each stage share:
        ``rla_out_convs`` (a 1x1 conv C -> k per stage) and
        ``rla_recurrent_convs`` (the cell's shared module per stage); both
        None when the blocks own them (``share_rla_convs=False``)."""
        self.rla_out_convs = self.rla_recurrent_convs = None
        if self.share_rla_convs:
            self.rla_out_convs = nn.ModuleList(
                build_update_conv(conv_cfg, c, self.rla_channel)
                for c in self.stage_channels)
            self.rla_recurrent_convs = nn.ModuleList(
                self.rla_cell.build_shared() for _ in self.stage_channels)

    def _block_rla_modules(
            self, i: int,
            j: int) -> Tuple[Optional[nn.Module], Optional[nn.Module]]:
        """The shared 1x1 conv and cell module of stage ``i`` (0-based), which
        all its blocks step with; ``(None, None)`` when the blocks own
        them."""
        if not self.share_rla_convs:
            return None, None
        return self.rla_out_convs[i], self.rla_recurrent_convs[i]

    def _head_modules(self) -> List[Optional[nn.Module]]:
        return [self.rla_out_norm]

    def _append_hidden(self, outs: List[torch.Tensor],
                       state) -> Tuple[torch.Tensor, ...]:
        """In classification mode, append the read-out of the final state's
        ``h`` to the last returned feature."""
        if self.concat_hidden:
            h = self._readout(self.rla_cell.hidden(state))
            outs[-1] = torch.cat([outs[-1], h], dim=1)
        return tuple(outs)


@MODELS.register_module()
class RLAResNet(_RLABlockBackbone):
    """RLA-ResNet backbone (`Recurrence along Depth
    <https://arxiv.org/abs/2110.11852>`_, NeurIPS 2021).

    Registered in mmengine's root ``MODELS`` registry, so both mmpretrain and
    mmdet configs can build it after ``custom_imports=['mmrla.models']``.

    Two output modes:

    - classification (``concat_hidden=True``): the output of the last stage
      is ``cat(x, act(norm(h)))`` with ``C + rla_channel`` channels, ready
      for global pooling and a linear classifier on 2048 + k inputs (R50);
    - detection (``concat_hidden=False``): plain stage features (256, 512,
      1024, 2048 channels for R50); ``h`` is dropped and its final update,
      which nothing would consume, is not computed, so every parameter gets a
      gradient and DDP needs no ``find_unused_parameters``.

    :attr:`out_channels` lists the channels of each returned feature.

    Args:
        depth (int): 18, 34 (basic blocks), 50, 101 or 152 (bottlenecks).
        rla_channel (int): Channels ``k`` of the RLA hidden state.
            Defaults to 32, as in the paper.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Stem output channels. Defaults to 64.
        base_channels (int): Output channels of the first stage divided by
            the block expansion. Defaults to 64.
        num_stages (int): Number of stages, 1 to 4. Defaults to 4.
        strides (Sequence[int]): Stride of the first block of each stage.
        out_indices (Sequence[int]): Stages whose features are returned
            (any sequence of ints). Negative indices count from the end.
            Stages after the last one are not built. Defaults to (3, ).
        concat_hidden (bool): Classification mode, see above: ``h`` is
            appended to the last returned feature. Defaults to True.
        eca_kernel_sizes (Sequence[int], optional): ECA kernel size of each
            stage, placed after the branch's last norm, e.g. (5, 5, 5, 7) as
            in RLA-ECANet. None for no ECA.
        se_ratio (int, optional): SE squeeze ratio (16 in the authors' code).
            None for no SE.
        groups (int): ResNeXt cardinality of the 3x3 convs. Defaults to 1.
        base_width (int): ResNeXt width per group. Defaults to 64.
        rla_source (str): What feeds each block's 1x1 update conv:
            ``'output'`` (authors' code and weights), ``'residual'``
            (paper's Figure 3) or ``'shortcut'`` (Figure 4 v5/v6); see
            :class:`_RLABlock`.
        update_position (str): ``'before'`` (``h <- cell(h + u)``, default)
            or ``'after'`` (``h <- cell(h) + u``, Figure 4 v2/v4/v6; needs a
            cell that steps without input: RLACell, PostActRLACell).
        cell_cfg (dict, optional): The recurrent unit, built with
            ``channels=rla_channel`` and this backbone's ``conv_cfg`` and
            ``norm_cfg``; None for the paper's ``dict(type='RLACell')``.
            The ablation's units: ``PostActRLACell``, ``ConvLSTMCell``,
            ``ConvGRUCell`` (see :mod:`mmrla.models.utils.rla_cell`).
        share_rla_convs (bool): One 1x1 update conv and one cell module per
            stage, shared by its blocks (True, the paper's recurrence), or
            one per block (False, ablation (b); keys
            ``layer<i>.<j>.rla_out_conv`` / ``.rla_recurrent_conv``).
        exchange (bool): Whether ``h`` enters each block's first conv
            (True) or only the classifier (False, ablation (c); it needs
            ``concat_hidden=True``, since nothing else would read ``h``).
        readout (str): The classification read-out of ``h``:
            ``'norm_act'`` (norm, then ``act_cfg``; released models),
            ``'norm_tanh'`` (the authors' ``rlav1_resnet50``) or ``'none'``
            (``h`` as it is; the post-activated, ConvLSTM and ConvGRU
            ablations). Unused when ``concat_hidden=False``.
        frozen_stages (int): Stages to freeze (eval mode, no gradients);
            0 freezes the stem only, -1 nothing. Defaults to -1.
        norm_eval (bool): Keep norm layers in eval mode while training.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms (BN, SyncBN, GN, ...).
        act_cfg (dict): Config of the activations. Defaults to ReLU.
        with_cp (bool): Gradient checkpointing of every block.
        zero_init_residual (bool): Zero-init the last norm of each residual
            branch (skipped when loading pretrained weights).
        init_cfg (dict or list[dict], optional): Initialization config.

    Example:
        >>> import torch
        >>> model = RLAResNet(depth=50)
        >>> [o.shape for o in model(torch.rand(1, 3, 225, 225))]
        [torch.Size([1, 2080, 8, 8])]
        >>> model = RLAResNet(depth=50, out_indices=(0, 1, 2, 3),
        ...                   concat_hidden=False)
        >>> model.out_channels
        (256, 512, 1024, 2048)
    """

    arch_settings = {
        18: (RLABasicBlock, (2, 2, 2, 2)),
        34: (RLABasicBlock, (3, 4, 6, 3)),
        50: (RLABottleneck, (3, 4, 6, 3)),
        101: (RLABottleneck, (3, 4, 23, 3)),
        152: (RLABottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int,
        rla_channel: int = 32,
        in_channels: int = 3,
        stem_channels: int = 64,
        base_channels: int = 64,
        num_stages: int = 4,
        strides: Sequence[int] = (1, 2, 2, 2),
        out_indices: Sequence[int] = (3, ),
        concat_hidden: bool = True,
        eca_kernel_sizes: Optional[Sequence[int]] = None,
        se_ratio: Optional[int] = None,
        groups: int = 1,
        base_width: int = 64,
        rla_source: str = 'output',
        update_position: str = 'before',
        cell_cfg: Optional[dict] = None,
        share_rla_convs: bool = True,
        exchange: bool = True,
        readout: str = 'norm_act',
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        act_cfg: dict = dict(type='ReLU', inplace=True),
        with_cp: bool = False,
        zero_init_residual: bool = True,
        init_cfg=DEFAULT_INIT_CFG,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(
                f'Invalid depth {depth!r} for RLAResNet; choose one of '
                f'{sorted(self.arch_settings)}.')
        if not 1 <= num_stages <= 4:
            raise ValueError(
                f'num_stages must be in 1..4, got {num_stages!r}.')
        self._set_common_args(num_stages, rla_channel, in_channels,
                              out_indices, frozen_stages, norm_eval,
                              zero_init_residual)
        if len(strides) != num_stages:
            raise ValueError(
                f'strides needs one entry per stage ({num_stages}), got '
                f'{tuple(strides)}.')
        if eca_kernel_sizes is not None and \
                len(eca_kernel_sizes) != num_stages:
            raise ValueError(
                f'eca_kernel_sizes needs one kernel size per stage '
                f'({num_stages}), got {tuple(eca_kernel_sizes)}; RLA-ECANet '
                'uses (5, 5, 5, 7), or pass None for no ECA.')
        last_stage = self.num_stages - 1
        if se_ratio is not None and (not isinstance(se_ratio, int)
                                     or isinstance(se_ratio, bool)
                                     or se_ratio <= 0):
            raise ValueError(
                f'se_ratio must be a positive integer or None (no SE), got '
                f'{se_ratio!r}; the authors use 16.')

        self.depth = depth
        self.concat_hidden = concat_hidden
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:self.num_stages]
        self.rla_cell = build_block_cell(cell_cfg, rla_channel, conv_cfg,
                                         norm_cfg, rla_source, update_position,
                                         exchange, concat_hidden)
        self.share_rla_convs = share_rla_convs

        self.conv1 = build_conv_layer(
            conv_cfg,
            in_channels,
            stem_channels,
            kernel_size=7,
            stride=2,
            padding=3,
            bias=False)
        self.norm1_name, norm1 = build_norm_layer(
            norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = build_activation_layer(act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers = []
        self.stage_channels = []
        block_in = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            stage_out = base_channels * 2**i * self.block.expansion
            res_layer = self.make_res_layer(
                block=self.block,
                num_blocks=num_blocks,
                in_channels=block_in,
                out_channels=stage_out,
                stride=strides[i],
                # Nothing consumes the last update of a detection backbone.
                update_last=concat_hidden or i != last_stage,
                rla_channel=rla_channel,
                rla_cell=self.rla_cell,
                groups=groups,
                base_width=base_width,
                se_ratio=se_ratio,
                eca_kernel_size=None
                if eca_kernel_sizes is None else eca_kernel_sizes[i],
                rla_source=rla_source,
                update_position=update_position,
                share_rla_convs=share_rla_convs,
                exchange=exchange,
                with_cp=with_cp,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            block_in = stage_out
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, res_layer)
            self.res_layers.append(layer_name)
            self.stage_channels.append(stage_out)
        self._build_shared_rla_convs(conv_cfg)
        self._build_readout(readout if concat_hidden else None, rla_channel,
                            norm_cfg, act_cfg)
        self._freeze_stages()

    def make_res_layer(self, block: type, num_blocks: int, in_channels: int,
                       out_channels: int, stride: int, update_last: bool,
                       conv_cfg: Optional[dict], norm_cfg: dict,
                       **kwargs) -> nn.Sequential:
        """Build one stage (override it to change the blocks of a variant).

        Args:
            block (type): The block class, e.g. :class:`RLABottleneck`.
            num_blocks (int): Blocks in the stage.
            in_channels (int): Input channels of the stage.
            out_channels (int): Output channels of the stage.
            stride (int): Stride of the first block.
            update_last (bool): Whether the last block updates ``h``.
            conv_cfg (dict, optional): Config of the convolutions.
            norm_cfg (dict): Config of the norms.
            **kwargs: The remaining block arguments.

        Returns:
            nn.Sequential: The blocks, a plain container (blocks take
            ``(x, h)``, so the backbone iterates them).
        """
        blocks = []
        for j in range(num_blocks):
            block_stride = stride if j == 0 else 1
            downsample = None
            if block_stride != 1 or in_channels != out_channels:
                downsample = nn.Sequential(
                    build_conv_layer(
                        conv_cfg,
                        in_channels,
                        out_channels,
                        1,
                        stride=block_stride,
                        bias=False),
                    build_norm_layer(norm_cfg, out_channels)[1])
            blocks.append(
                block(
                    in_channels,
                    out_channels,
                    stride=block_stride,
                    downsample=downsample,
                    with_rla_update=update_last or j < num_blocks - 1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    **kwargs))
            in_channels = out_channels
        return nn.Sequential(*blocks)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._check_input(x)
        x = self.maxpool(self.relu(self.norm1(self.conv1(x))))
        _, outs, h = self._forward_stages(x)
        return self._append_hidden(outs, h)

    def _stem_modules(self) -> List[nn.Module]:
        return [self.conv1, self.norm1]
