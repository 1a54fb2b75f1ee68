"""The thin CIFAR Xception of RLA-Net and RLA-Xception (Zhao et al., 2021,
appendix B.1, Table 2 and Table 9).

The authors released no CIFAR code, and the paper's Table 9 (the
architecture) is not available in its text, so :class:`RLAXception` is a
reconstruction from appendix B.1, Chollet's Xception (2017) and the
parameter counts of Table 2. docs/cifar.md gives the reconstructed table,
every choice and the parameter arithmetic.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import (ConvModule, DepthwiseSeparableConvModule,
                      build_activation_layer)
from mmengine.model import BaseModule

from mmrla.registry import MODELS
from ..utils import RLACell, build_rla_cell, rla_step
from ..utils.rla_cell import State
from .base import (DEFAULT_INIT_CFG, RLABackbone, build_update_conv,
                   check_images, checkpointed)


def separable_conv(in_channels: int,
                   out_channels: int,
                   conv_cfg: Optional[dict],
                   norm_cfg: dict,
                   act_cfg: Optional[dict] = None,
                   stride: int = 1) -> DepthwiseSeparableConvModule:
    """Xception's separable conv: a bias-free depthwise 3x3 conv with no norm
    and no activation (Chollet found none in between works best), then a
    1x1 conv with a norm and ``act_cfg`` (None for none).

    Example:
        >>> import torch
        >>> sep = separable_conv(8, 16, None, dict(type='BN'))
        >>> sep(torch.rand(2, 8, 5, 5)).shape
        torch.Size([2, 16, 5, 5])
        >>> sep.depthwise_conv.with_norm, sep.pointwise_conv.with_norm
        (False, True)
    """
    return DepthwiseSeparableConvModule(
        in_channels,
        out_channels,
        3,
        stride=stride,
        padding=1,
        bias=False,
        conv_cfg=conv_cfg,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
        dw_norm_cfg=None,
        dw_act_cfg=None)


class XceptionBlock(BaseModule):
    """A residual module of Xception, optionally with an RLA hidden state.

    Branch: ``[act] sep(c_1) norm, act, sep(c_2) norm [, act, sep(c_3)
    norm]``, then a 3x3 average pooling with stride 2 when ``stride=2``
    (Xception's max pooling; its ``'same'`` padding is not counted in the
    averages). Shortcut: the identity, or a 1x1 conv (stride ``stride``)
    and a norm when the width or the resolution changes. The output is
    their sum, with no activation: the next module starts with one.

    With RLA (``rla_channel`` k > 0) the hidden state ``h`` joins the first
    separable conv: its depthwise conv sees ``cat(act(x), h)``, C_in + k
    channels, and its pointwise conv maps them to ``c_1``. ``h`` is not
    activated (it is a conv output, as in RLA-ResNet) and does not enter the
    shortcut. The output then updates ``h`` through the stage's shared 1x1
    conv and the cell (:func:`~mmrla.models.utils.rla_step`).

    Args:
        in_channels (int): Channels of ``x``.
        channels (Sequence[int]): Output channels of each separable conv.
        stride (int): 2 ends the branch with the average pooling and strides
            the shortcut. Defaults to 1.
        start_with_act (bool): Activate ``x`` before the first separable
            conv (False only right after the stem, whose conv already did).
        rla_channel (int): Channels k of the hidden state; 0 builds the
            plain Xception module. Defaults to 0.
        rla_cell (RLACell, optional): The cell type of the recurrence;
            defaults to a depthwise ``RLACell(rla_channel)``.
        with_rla_update (bool): Whether this module updates ``h`` (False
            for a last module whose update nothing would consume).
        with_cp (bool): Use gradient checkpointing.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms.
        act_cfg (dict): Config of the activation, never applied in place
            (``x`` also feeds the shortcut).
        init_cfg (dict, optional): Initialization config.

    Example:
        >>> import torch
        >>> block = XceptionBlock(32, (64, 64), stride=2, rla_channel=8)
        >>> out_conv = torch.nn.Conv2d(64, 8, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        >>> x, h = torch.rand(2, 32, 9, 9), torch.rand(2, 8, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 64, 5, 5]), torch.Size([2, 8, 5, 5])]
    """

    def __init__(self,
                 in_channels: int,
                 channels: Sequence[int],
                 stride: int = 1,
                 start_with_act: bool = True,
                 rla_channel: int = 0,
                 rla_cell: Optional[RLACell] = None,
                 with_rla_update: bool = True,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride!r}.')
        self.in_channels = in_channels
        self.out_channels = channels[-1]
        self.stride = stride
        self.start_with_act = start_with_act
        self.rla_channel = rla_channel
        self.with_cp = with_cp
        # x feeds the shortcut too, so the activation must not overwrite it.
        self.act = build_activation_layer({
            **act_cfg, 'inplace': False
        } if 'inplace' in act_cfg else act_cfg)
        widths = [in_channels + rla_channel, *channels]
        self.sep_convs = nn.ModuleList([
            separable_conv(cin, cout, conv_cfg, norm_cfg)
            for cin, cout in zip(widths[:-1], widths[1:])
        ])
        self.pool = nn.AvgPool2d(
            3, stride=2, padding=1,
            count_include_pad=False) if stride == 2 else None
        self.shortcut = ConvModule(
            in_channels,
            self.out_channels,
            1,
            stride=stride,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None) if stride != 1 or \
            in_channels != self.out_channels else None
        if rla_channel:
            self.rla_cell = rla_cell or RLACell(
                rla_channel,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                depthwise=True)
            # The cell's per-module module (unshared), e.g. its norm.
            self.rla_norm = self.rla_cell.build_own() \
                if with_rla_update else None
        else:
            self.rla_cell = self.rla_norm = None

    @property
    def zero_init_layer(self) -> nn.Module:
        """The branch's last norm, which ``zero_init_residual`` zeroes so
        that the module starts as its shortcut."""
        return self.sep_convs[-1].pointwise_conv.norm

    def _first_sep_conv(self, x: torch.Tensor,
                        h: Optional[torch.Tensor]) -> torch.Tensor:
        """``sep_convs[0](cat(x, h))``; ``h=None`` stands for the zero
        state."""
        sep = self.sep_convs[0]
        if not self.rla_channel:
            return sep(x)
        if h is None:
            h = x.new_zeros(x.shape[0], self.rla_channel, *x.shape[2:])
        return sep(torch.cat([x, h], dim=1))

    def forward(
        self,
        x: torch.Tensor,
        h: Optional[State] = None,
        out_conv: Optional[nn.Module] = None,
        shared: Optional[nn.Module] = None
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """Run the module and one RLA step.

        Args:
            x (Tensor): Module input, shape (N, C_in, H, W).
            h (Tensor | tuple, optional): The cell's state, (N, k, H, W);
                None for the initial all-zero state (and without RLA).
            out_conv (nn.Module, optional): The stage's shared 1x1 conv
                (C_out -> k).
            shared (nn.Module, optional): The stage's shared module of the
                cell (the depthwise recurrent 3x3 conv for :class:`RLACell`).

        Returns:
            tuple: The module output (N, C_out, H', W') and the new state
            (N, k, H', W'), or None without RLA or without an update.
        """

        def _inner_forward(x, h):
            y = x
            for i, sep in enumerate(self.sep_convs):
                if i or self.start_with_act:
                    y = self.act(y)
                if i:
                    y = sep(y)
                else:
                    y = self._first_sep_conv(
                        y, None
                        if self.rla_cell is None else self.rla_cell.hidden(h))
            if self.pool is not None:
                y = self.pool(y)
            # In place into the branch's fresh output.
            out = y.add_(x if self.shortcut is None else self.shortcut(x))
            if self.rla_norm is None:
                return out, None
            return out, rla_step(self.rla_cell, h, out_conv(out), self.stride,
                                 self.rla_norm, shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


@MODELS.register_module()
class RLAXception(RLABackbone):
    """The thin CIFAR Xception of RLA-Net (``with_rla=False``) and
    RLA-Xception (`Recurrence along Depth
    <https://arxiv.org/abs/2110.11852>`_, NeurIPS 2021, appendix B.1).

    The network (input 32x32): a stem of two 3x3 convs (16, 32 channels);
    entry modules of 64, 128 and 256 channels (``layer1``, ``layer2``,
    ``layer3.0``; the last two downsample by 3x3 average pooling); a middle
    flow of 8 modules of three separable convs at 256 channels
    (``layer3.1..8``); an exit module to 512 (``layer3.9``) and two separable
    convs of 512 (``conv3``, ``conv4``). With RLA, ``h`` (k channels) joins
    the first separable conv of each module, each module's output feeds a 1x1
    conv shared within its stage, ``h`` is updated by a per-module norm, tanh
    and a shared depthwise 3x3 conv per stage, and the classifier reads
    ``cat(x, relu(bn(h)))``, 512 + k channels. Why these widths and where
    the downsampling goes: they keep Xception's depth (36 conv layers) and
    give the paper's 2.70M / 2.75M parameters (docs/cifar.md, with the
    arithmetic).

    ``out_indices`` 0-2 select the stage outputs (64, 128 and 512 channels
    at 1, 1/2 and 1/4 of the input) and 3 the classification feature.
    Without index 3, stages after the last output, the tail convs and the
    read-out are not built and the last update of ``h`` is not computed, so
    every parameter gets a gradient.

    Args:
        arch (str | dict): ``'cifar'`` (the table above) or a dict with the
            keys of :attr:`arch_settings`.
        with_rla (bool): Build RLA-Xception; False builds the plain
            Xception baseline. Defaults to True.
        rla_channel (int): Channels k of the hidden state. Defaults to 16.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): 0-2 for the stages, 3 for the
            classification feature. Defaults to (3, ).
        cell_cfg (dict, optional): The recurrent unit, built with
            ``channels=rla_channel``, this backbone's ``conv_cfg`` and
            ``norm_cfg`` and ``depthwise=True`` unless given (e.g.
            ``dict(type='RLACell', depthwise=False)`` for RLA-ResNet's dense
            recurrent conv); None for ``dict(type='RLACell')``.
        readout (str): Read-out of ``h`` for classification, one of
            ``'norm_act'`` (default, ``relu(bn(h))``), ``'norm_tanh'``,
            ``'none'``.
        frozen_stages (int): Freeze the stem and ``layer1`` ..
            ``layer{frozen_stages}`` (eval mode, no gradients) with the RLA
            convs and norms of those stages; 4 also freezes ``conv3``,
            ``conv4`` and the read-out norm. -1 freezes nothing.
        norm_eval (bool): Keep norm layers in eval mode while training.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms.
        act_cfg (dict): Config of the activations. Defaults to ReLU.
        with_cp (bool): Gradient checkpointing of every module.
        zero_init_residual (bool): Zero-init the last norm of each module's
            branch, so that modules start as their shortcuts. The paper
            uses He initialization only, so defaults to False.
        init_cfg (dict or list[dict], optional): Initialization config;
            defaults to He (Kaiming) init of the convs, as the paper.

    Example:
        >>> import torch
        >>> model = RLAXception()
        >>> [o.shape for o in model(torch.rand(2, 3, 32, 32))]
        [torch.Size([2, 528, 8, 8])]
        >>> model = RLAXception(with_rla=False, out_indices=(0, 1, 2, 3))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 20, 20))]
        [(1, 64, 20, 20), (1, 128, 10, 10), (1, 512, 5, 5), (1, 512, 5, 5)]
    """

    # The stem's widths; per resolution stage, rows of (output widths of
    # the separable convs of a module, number of modules, stride of the
    # first); the tail's separable convs.
    arch_settings: Dict[str, dict] = {
        'cifar':
        dict(
            stem_channels=(16, 32),
            stages=(
                (((64, 64), 1, 1), ),  # 32x32: entry module 1
                (((128, 128), 1, 2), ),  # 16x16: entry module 2
                (  # 8x8: entry module 3, the middle flow, the exit module
                    ((256, 256), 1, 2),
                    ((256, 256, 256), 8, 1),
                    ((256, 512), 1, 1),
                ),
            ),
            tail_channels=(512, 512)),
    }

    head_is_a_stage = True

    def __init__(
        self,
        arch: Union[str, dict] = 'cifar',
        with_rla: bool = True,
        rla_channel: int = 16,
        in_channels: int = 3,
        out_indices: Sequence[int] = (3, ),
        cell_cfg: Optional[dict] = None,
        readout: str = 'norm_act',
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        act_cfg: dict = dict(type='ReLU'),
        with_cp: bool = False,
        zero_init_residual: bool = False,
        init_cfg=DEFAULT_INIT_CFG,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = self._arch(arch)
        stages = arch['stages']
        num_stages = len(stages)
        self._set_common_args(
            num_stages,
            rla_channel,
            in_channels,
            out_indices,
            frozen_stages,
            norm_eval,
            zero_init_residual,
            rla_hint='RLA-Xception uses 16')

        self.arch = arch
        self.with_rla = bool(with_rla)
        self.with_cls_output = num_stages in self.out_indices
        k = rla_channel if self.with_rla else 0

        stem = arch['stem_channels']
        stem_inputs = (in_channels, stem[0])
        stem_convs = [
            ConvModule(
                cin,
                cout,
                3,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg) for cin, cout in zip(stem_inputs, stem)
        ]
        self.conv1, self.conv2 = stem_convs

        self.rla_cell = build_rla_cell(
            cell_cfg, rla_channel, conv_cfg, norm_cfg,
            depthwise=True) if self.with_rla else None
        out_convs: List[nn.Module] = []
        recurrent_convs: List[nn.Module] = []
        # Index into rla_out_convs of each module (None: no update).
        self.out_conv_ids: List[List[Optional[int]]] = []
        self.stage_channels: List[int] = []
        block_in = stem[1]
        for i in range(self.num_stages):
            modules = [(channels, stride if j == 0 else 1)
                       for channels, num, stride in stages[i]
                       for j in range(num)]
            last_stage = i == self.num_stages - 1
            blocks, ids, convs_by_width = [], [], {}
            for j, (channels, stride) in enumerate(modules):
                # Nothing consumes the last update of a dense-output model.
                update = self.with_rla and (self.with_cls_output
                                            or not last_stage
                                            or j < len(modules) - 1)
                blocks.append(
                    XceptionBlock(
                        block_in,
                        channels,
                        stride=stride,
                        start_with_act=i > 0 or j > 0,
                        rla_channel=k,
                        rla_cell=self.rla_cell,
                        with_rla_update=update,
                        with_cp=with_cp,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                block_in = channels[-1]
                if not update:
                    ids.append(None)
                    continue
                if block_in not in convs_by_width:
                    convs_by_width[block_in] = len(out_convs)
                    out_convs.append(build_update_conv(conv_cfg, block_in, k))
                ids.append(convs_by_width[block_in])
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.out_conv_ids.append(ids)
            self.stage_channels.append(block_in)
            if self.with_rla:
                recurrent_convs.append(self.rla_cell.build_shared(
                ) if convs_by_width else nn.Identity())
        if self.with_rla:
            self.rla_out_convs = nn.ModuleList(out_convs)
            self.rla_recurrent_convs = nn.ModuleList(recurrent_convs)
        else:
            self.rla_out_convs = self.rla_recurrent_convs = None

        if self.with_cls_output:
            tail = arch['tail_channels']
            self.conv3 = separable_conv(block_in, tail[0], conv_cfg, norm_cfg,
                                        act_cfg)
            self.conv4 = separable_conv(tail[0], tail[1], conv_cfg, norm_cfg,
                                        act_cfg)
            self.cls_channels = tail[1] + k
        else:
            self.conv3 = self.conv4 = None
            self.cls_channels = None
        self._build_readout(
            readout if self.with_rla and self.with_cls_output else None, k,
            norm_cfg, act_cfg)
        self._freeze_stages()

    @classmethod
    def _arch(cls, arch: Union[str, dict]) -> dict:
        keys = set(cls.arch_settings['cifar'])
        if isinstance(arch, str):
            if arch not in cls.arch_settings:
                raise ValueError(
                    f'Unknown arch {arch!r}; choose one of '
                    f'{sorted(cls.arch_settings)} or pass a dict with the '
                    f'keys {sorted(keys)}.')
            return cls.arch_settings[arch]
        if not isinstance(arch, dict) or set(arch) != keys:
            raise ValueError(
                f'arch must be a name in {sorted(cls.arch_settings)} or a '
                f'dict with exactly the keys {sorted(keys)}, got {arch!r}.')
        return arch

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature, in ``out_indices`` order."""
        channels = self.stage_channels + [self.cls_channels]
        return tuple(channels[i] for i in self.out_indices)

    def _block_rla_modules(
            self, i: int,
            j: int) -> Tuple[Optional[nn.Module], Optional[nn.Module]]:
        """The 1x1 conv of module ``j`` of stage ``i`` (shared by the
        stage's modules of its width) and the stage's recurrent conv."""
        if not self.with_rla:
            return None, None
        conv_id = self.out_conv_ids[i][j]
        return (None if conv_id is None else self.rla_out_convs[conv_id],
                self.rla_recurrent_convs[i])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        check_images(x, self.in_channels, type(self).__name__)
        x, outs, h = self._forward_stages(self.conv2(self.conv1(x)))
        if self.with_cls_output:
            x = self.conv4(self.conv3(x))
            if self.with_rla:
                x = torch.cat([x, self._readout(h)], 1)
            outs.append(x)
        return tuple(outs)

    def _stem_modules(self) -> List[nn.Module]:
        return [self.conv1, self.conv2]

    def _head_modules(self) -> List[Optional[nn.Module]]:
        return [self.conv3, self.conv4, self.rla_out_norm]
