"""Pre-activation CIFAR ResNets (He et al., 2016), with and without RLA.

The paper's CIFAR ResNet-110 and ResNet-164 (appendix B.1, Tables 7 and 8;
the authors released no CIFAR code) are the pre-activation networks of
"Identity Mappings in Deep Residual Networks": a 3x3 stem conv of 16
channels, three stages of 18 blocks at 16/32/64 channels (times 4 for the
bottlenecks of ResNet-164), strides 1, 2, 2, blocks ``x + F(x)`` whose
branch is BN-ReLU-conv (no activation after the sum), and a final BN-ReLU
before the global pooling. A block that changes the width projects the
shortcut with a 1x1 conv (no norm) from the pre-activated input, as He et
al.'s first unit after the stem conv and their dimension-increasing units
do; an identity shortcut reads the raw sum. Strided blocks stride their
3x3 conv (the first conv of a basic block).

RLA (``with_rla=True``) is the ImageNet model's recurrence, through the same
code (:class:`~mmrla.models.backbones.rla_resnet._RLABlock`,
:func:`~mmrla.models.utils.rla_step`): the hidden state ``h`` (k channels)
starts at zero at the stem's resolution, enters each block's first conv
next to the pre-activated input, ``conv1(cat(relu(bn1(x)), h))``, and each
block's shared 1x1 conv feeds the stage's recurrent unit. The classifier
sees ``cat(relu(bn(x)), relu(bn(h)))``, ``C_last + k`` channels.

The parameter counts of the paper fix the open choices (k = 4 for
ResNet-110, k = 12 for ResNet-164, where ``h`` joins the block);
docs/cifar.md gives the arithmetic and where the paper's Table 2 does not
match.

``rla_source`` defaults to ``'residual'``, the paper's Figure 3 (the update
reads the learned residual): with no CIFAR code to follow, the integration
variants v1-v6 of Figure 4 are the six combinations of ``rla_source``
(``'residual'``, ``'output'``, ``'shortcut'``) and ``update_position``.
(The authors' ImageNet code reads the block output, ``'output'``; see
:class:`~mmrla.models.backbones.RLAResNet`.)
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer

from mmrla.registry import MODELS
from ..utils import build_rla_cell
from ..utils.rla_cell import State
from .base import DEFAULT_INIT_CFG, check_images, checkpointed
from .resnet_extra_channels import check_extra_channels
from .rla_resnet import _RLABlock, _RLABlockBackbone, build_block_cell

# k per depth that reproduces the paper's parameter increments (Table 2):
# 12 for ResNet-164 (appendix B.1) and 4 for ResNet-110; see the module
# docstring.
DEFAULT_RLA_CHANNELS = {110: 4, 164: 12}


class _RLAPreActBlock(_RLABlock):
    """Shared part of the pre-activation RLA blocks.

    ``relu(norm1(x))`` feeds the residual branch (its first conv over
    ``cat(., h)``) and a projection shortcut; an identity shortcut reads
    ``x``. The block output is the sum, not activated. Subclasses build the
    convs and implement ``_residual_branch`` (from the pre-activated input)
    and ``last_conv``. Arguments as :class:`_RLABlock`'s.
    """

    act_after_sum = False

    def __init__(self, in_channels: int, out_channels: int, rla_channel: int,
                 stride: int, **kwargs) -> None:
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, in_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)

    @property
    def last_conv(self) -> nn.Module:
        """The branch's last conv."""
        raise NotImplementedError

    @property
    def zero_init_layer(self) -> nn.Module:
        """The layer that ``zero_init_residual`` zeroes: the branch's last
        conv (the pre-activation branch ends with a conv)."""
        return self.last_conv

    def _residual_branch(self, pre: torch.Tensor,
                         h: Optional[State]) -> torch.Tensor:
        """The residual branch from the pre-activated input ``pre``."""
        raise NotImplementedError

    def forward(
            self, x: torch.Tensor, h: Optional[State],
            out_conv: Optional[nn.Module], shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """The block and one RLA step (arguments: see :class:`_RLABlock`)."""

        def _inner_forward(x, h):
            pre = self.relu(self.norm1(x))
            identity = x if self.downsample is None else self.downsample(pre)
            return self._sum_and_step(
                self._residual_branch(pre, h), identity, h, out_conv, shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


class RLAPreActBasicBlock(_RLAPreActBlock):
    """Pre-activation basic block: BN-ReLU-conv3x3 (over ``cat(., h)``,
    strided), BN-ReLU-conv3x3, of ResNet-110.

    See :class:`_RLABlock` for the arguments.

    Example:
        >>> import torch
        >>> block = RLAPreActBasicBlock(16, 16, rla_channel=4)
        >>> out_conv = torch.nn.Conv2d(16, 4, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 16, 9, 9), torch.zeros(2, 4, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 16, 9, 9]), torch.Size([2, 4, 9, 9])]
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels + self.hidden_channels,
            out_channels,
            3,
            stride=stride,
            padding=1,
            bias=False)
        self.norm2_name, norm2 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.conv2 = build_conv_layer(
            self.conv_cfg,
            out_channels,
            out_channels,
            3,
            padding=1,
            bias=False)

    @property
    def last_conv(self) -> nn.Module:
        return self.conv2

    def _residual_branch(self, pre: torch.Tensor,
                         h: Optional[State]) -> torch.Tensor:
        out = self.relu(self.norm2(self.conv1(self._cat_hidden(pre, h))))
        return self.conv2(out)


class RLAPreActBottleneck(_RLAPreActBlock):
    """Pre-activation bottleneck: BN-ReLU-conv1x1 (over ``cat(., h)``),
    BN-ReLU-conv3x3 (strided), BN-ReLU-conv1x1, of ResNet-164. The middle
    width is ``out_channels // 4``.

    See :class:`_RLABlock` for the arguments.

    Example:
        >>> import torch
        >>> block = RLAPreActBottleneck(
        ...     16, 64, rla_channel=12,
        ...     downsample=torch.nn.Conv2d(16, 64, 1, bias=False))
        >>> out_conv = torch.nn.Conv2d(64, 12, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(12, 12, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 16, 9, 9), torch.zeros(2, 12, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 64, 9, 9]), torch.Size([2, 12, 9, 9])]
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        mid_channels = out_channels // self.expansion
        self.mid_channels = mid_channels
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels + self.hidden_channels,
            mid_channels,
            1,
            bias=False)
        self.norm2_name, norm2 = build_norm_layer(
            self.norm_cfg, mid_channels, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.conv2 = build_conv_layer(
            self.conv_cfg,
            mid_channels,
            mid_channels,
            3,
            stride=stride,
            padding=1,
            bias=False)
        self.norm3_name, norm3 = build_norm_layer(
            self.norm_cfg, mid_channels, postfix=3)
        self.add_module(self.norm3_name, norm3)
        self.conv3 = build_conv_layer(
            self.conv_cfg, mid_channels, out_channels, 1, bias=False)

    @property
    def last_conv(self) -> nn.Module:
        return self.conv3

    def _residual_branch(self, pre: torch.Tensor,
                         h: Optional[State]) -> torch.Tensor:
        out = self.relu(self.norm2(self.conv1(self._cat_hidden(pre, h))))
        out = self.relu(getattr(self, self.norm3_name)(self.conv2(out)))
        return self.conv3(out)


@MODELS.register_module()
class RLAPreActResNet(_RLABlockBackbone):
    """Pre-activation CIFAR ResNet-110/164, with (default) or without RLA.

    The paper's CIFAR models (appendix B.1, Tables 2, 7, 8, 11-13, 15); see
    the module docstring for the architecture and docs/cifar.md for how
    the parameter counts fix k and the reading. Parameters (10^6, CIFAR-10
    / CIFAR-100 head, ``tools/analysis_tools/get_flops.py``):

    ==============  ==========  ==========  =====================
    model           ours        paper       paper's RLA increment
    ==============  ==========  ==========  =====================
    ResNet-110      1.73/1.74M  1.73/1.74M
    RLA, k = 4      1.80/1.81M  1.80/1.81M  +0.07M (ours +0.07M)
    ResNet-164      1.70/1.73M  1.72/1.74M
    RLA, k = 12     1.74/1.76M  1.74/1.76M  +0.02M (ours +0.035M)
    ==============  ==========  ==========  =====================

    Classification mode (``concat_hidden=True``) appends
    ``act(norm(h))`` to the last returned feature, so the linear head sees
    ``C_last + k`` channels (64 + 4 for RLA-ResNet-110, 256 + 12 for
    RLA-ResNet-164); ``concat_hidden=False`` returns plain stage features
    (h's last update, which nothing reads, is skipped). Only the last
    stage's output passes the final BN-ReLU; earlier stages return their
    raw residual sums, the pre-activation form.

    Args:
        depth (int): 110 (basic blocks) or 164 (bottlenecks).
        with_rla (bool): Build the RLA module (True) or the plain
            pre-activation ResNet with the standard parameter count
            (False; the RLA options must then keep their defaults).
        rla_channel (int, optional): Channels k of the hidden state; None
            for the paper's per depth (:data:`DEFAULT_RLA_CHANNELS`: 4 for
            110, 12 for 164).
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Channels of the 3x3 stem conv. Defaults to 16.
        base_channels (int): Output channels of the first stage divided by
            the block expansion. Defaults to 16.
        out_indices (Sequence[int]): Stages (0..2, negatives from the end)
            whose features are returned; stages after the last one are not
            built. Defaults to (2, ).
        concat_hidden (bool): Classification mode (see above). Ignored
            without RLA. Defaults to True.
        extra_channels (int): Channels added to every stage's output (a
            bottleneck's middle width grows by a quarter of it), the
            paper's "ResNet-164 (channel + 12)" of Table 12 with
            ``with_rla=False, extra_channels=12``; the same widening as
            :class:`ResNetExtraChannels` on ImageNet. Defaults to 0.
        rla_source (str): What feeds each block's 1x1 update conv:
            ``'residual'`` (the paper's Figure 3, default), ``'output'``
            (the sum) or ``'shortcut'``; see :class:`_RLABlock`.
        update_position (str): ``'before'`` (``h <- cell(h + u)``) or
            ``'after'`` (``h <- cell(h) + u``), Figure 4.
        cell_cfg (dict, optional): The recurrent unit (``RLACell`` when
            None; ``PostActRLACell``, ``ConvLSTMCell``, ``ConvGRUCell``).
        share_rla_convs (bool): The stage's 1x1 and recurrent convs shared
            by its blocks (True) or one per block (False, the unshared
            ablation).
        exchange (bool): Whether ``h`` enters the blocks' first convs
            (False: only the classifier reads it).
        readout (str): ``'norm_act'``, ``'norm_tanh'`` or ``'none'``, the
            classifier's read-out of ``h`` (see :class:`RLABackbone`).
        frozen_stages (int): Stages to freeze (eval mode, no gradients);
            0 freezes the stem conv only, -1 nothing. Defaults to -1.
        norm_eval (bool): Keep norm layers in eval mode while training.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms.
        act_cfg (dict): Config of the activations. Defaults to ReLU.
        with_cp (bool): Gradient checkpointing of every block.
        zero_init_residual (bool): Zero-init each branch's last conv (the
            pre-activation branch ends with a conv). Defaults to False, He
            et al.'s initialization as in the paper.
        init_cfg (dict or list[dict], optional): Initialization config.

    Example:
        >>> import torch
        >>> model = RLAPreActResNet(depth=164)
        >>> [o.shape for o in model(torch.rand(2, 3, 32, 32))]
        [torch.Size([2, 268, 8, 8])]
        >>> model = RLAPreActResNet(depth=110, with_rla=False,
        ...                         out_indices=(0, 1, 2))
        >>> [tuple(o.shape[1:]) for o in model(torch.rand(1, 3, 9, 9))]
        [(16, 9, 9), (32, 5, 5), (64, 3, 3)]
        >>> RLAPreActResNet(depth=110).out_channels
        (68,)
    """

    arch_settings = {
        110: (RLAPreActBasicBlock, (18, 18, 18)),
        164: (RLAPreActBottleneck, (18, 18, 18)),
    }
    strides = (1, 2, 2)

    def __init__(
        self,
        depth: int,
        with_rla: bool = True,
        rla_channel: Optional[int] = None,
        in_channels: int = 3,
        stem_channels: int = 16,
        base_channels: int = 16,
        out_indices=(2, ),
        concat_hidden: bool = True,
        extra_channels: int = 0,
        rla_source: str = 'residual',
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
        zero_init_residual: bool = False,
        init_cfg=DEFAULT_INIT_CFG,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(
                f'Invalid depth {depth!r} for RLAPreActResNet; choose one of '
                f'{sorted(self.arch_settings)} (the paper\'s CIFAR '
                'ResNet-110 and ResNet-164).')
        if not isinstance(with_rla, bool):
            raise ValueError(f'with_rla must be True or False, got '
                             f'{with_rla!r}.')
        if not with_rla:
            changed = [
                f'{name}={value!r}'
                for name, value, default in (('rla_channel', rla_channel,
                                              None), ('rla_source', rla_source,
                                                      'residual'),
                                             ('update_position',
                                              update_position, 'before'),
                                             ('cell_cfg', cell_cfg,
                                              None), ('share_rla_convs',
                                                      share_rla_convs, True),
                                             ('exchange', exchange, True),
                                             ('readout', readout, 'norm_act'))
                if value != default
            ]
            if changed:
                raise ValueError(
                    'with_rla=False builds the plain pre-activation ResNet, '
                    f'which has no use for {", ".join(changed)}; drop '
                    'them or set with_rla=True.')
        self.block, stage_blocks = self.arch_settings[depth]
        num_stages = len(stage_blocks)
        if rla_channel is None:
            rla_channel = DEFAULT_RLA_CHANNELS[depth]
        self._set_common_args(num_stages, rla_channel, in_channels,
                              out_indices, frozen_stages, norm_eval,
                              zero_init_residual)
        check_extra_channels(extra_channels, self.block.expansion, depth,
                             'the paper\'s Table 12 adds 12')
        concat_hidden = with_rla and concat_hidden
        if with_rla:
            self.rla_cell = build_block_cell(cell_cfg, rla_channel, conv_cfg,
                                             norm_cfg, rla_source,
                                             update_position, exchange,
                                             concat_hidden)
        else:  # no state: the blocks neither read nor update one
            self.rla_cell = build_rla_cell(None, rla_channel, conv_cfg,
                                           norm_cfg)
            exchange = False

        self.depth = depth
        self.with_rla = with_rla
        self.rla_channel = rla_channel if with_rla else None
        self.stage_blocks = stage_blocks[:self.num_stages]
        self.concat_hidden = concat_hidden
        self.share_rla_convs = with_rla and share_rla_convs

        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, stem_channels, 3, padding=1, bias=False)
        self.res_layers = []
        self.stage_channels = []
        block_in = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            stage_out = base_channels * 2**i * self.block.expansion + \
                extra_channels
            blocks = self.make_res_layer(
                num_blocks,
                block_in,
                stage_out,
                self.strides[i],
                # Nothing consumes the last update without a read-out.
                update_last=with_rla
                and (concat_hidden or i != self.num_stages - 1),
                with_rla_update=with_rla,
                rla_channel=rla_channel,
                rla_cell=self.rla_cell,
                rla_source=rla_source,
                update_position=update_position,
                share_rla_convs=share_rla_convs,
                exchange=exchange,
                with_cp=with_cp,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            self.add_module(f'layer{i + 1}', blocks)
            self.res_layers.append(f'layer{i + 1}')
            self.stage_channels.append(stage_out)
            block_in = stage_out
        self._build_shared_rla_convs(conv_cfg)
        # He et al.'s extra activation after the last unit.
        self.final_norm = build_norm_layer(
            norm_cfg, block_in)[1] if self.num_stages == num_stages else None
        self.final_act = build_activation_layer(act_cfg)
        self._build_readout(readout if concat_hidden else None, rla_channel,
                            norm_cfg, act_cfg)
        self._freeze_stages()

    def make_res_layer(self, num_blocks: int, in_channels: int,
                       out_channels: int, stride: int, update_last: bool,
                       with_rla_update: bool, conv_cfg: Optional[dict],
                       **kwargs) -> nn.Sequential:
        """Build one stage: ``num_blocks`` blocks, the first strided and,
        when the width changes, with a 1x1 projection shortcut (no norm: it
        reads the pre-activated input).

        Args:
            num_blocks (int): Blocks in the stage.
            in_channels (int): Input channels of the stage.
            out_channels (int): Output channels of the stage.
            stride (int): Stride of the first block.
            update_last (bool): Whether the last block updates ``h``.
            with_rla_update (bool): Whether the other blocks update ``h``.
            conv_cfg (dict, optional): Config of the convolutions.
            **kwargs: The remaining block arguments.

        Returns:
            nn.Sequential: The blocks (they take ``(x, h)``, so the
            backbone iterates them).
        """
        blocks = []
        for j in range(num_blocks):
            block_stride = stride if j == 0 else 1
            projection = block_stride != 1 or in_channels != out_channels
            blocks.append(
                self.block(
                    in_channels,
                    out_channels,
                    stride=block_stride,
                    downsample=build_conv_layer(
                        conv_cfg,
                        in_channels,
                        out_channels,
                        1,
                        stride=block_stride,
                        bias=False) if projection else None,
                    with_rla_update=update_last if j == num_blocks -
                    1 else with_rla_update,
                    conv_cfg=conv_cfg,
                    **kwargs))
            in_channels = out_channels
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        check_images(x, self.in_channels, type(self).__name__)
        _, outs, h = self._forward_stages(self.conv1(x))
        if self.final_norm is not None:
            # The last stage built is always returned, so it is outs[-1].
            outs[-1] = self.final_act(self.final_norm(outs[-1]))
        if self.concat_hidden:
            outs[-1] = torch.cat([outs[-1], self._readout(h)], dim=1)
        return tuple(outs)

    def _stem_modules(self) -> List[nn.Module]:
        return [self.conv1]

    def _head_modules(self) -> List[Optional[nn.Module]]:
        return [self.final_norm, self.rla_out_norm]
