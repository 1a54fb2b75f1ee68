"""RLA-MobileNetV2 (Zhao et al., 2021, appendix B.2.1).

The released ``dsrla_mobilenetv2_k32``: the hidden state ``h`` (k channels)
is concatenated to each inverted residual block's *expanded* features, so the
depthwise 3x3 conv sees ``hidden + k`` channels and the expansion cost does
not grow. The branch output (before the residual add) feeds the row's shared
1x1 conv (C -> k), which is added to ``h``; then ``h`` passes the block's own
norm, tanh and a shared depthwise 3x3 conv (one per resolution stage in the
paper's text, a single one for all stages in the released weights).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.utils import make_divisible

from mmrla.registry import MODELS
from ..utils import (ECALayer, RLACell, build_rla_cell, conv_over_concat,
                     depthwise_over_concat, rla_step)
from ..utils.concat_conv import keep_split_weights, kept_split_weights
from .base import (DEFAULT_INIT_CFG, RLABackbone, build_update_conv,
                   checkpointed, renamed_arguments)


class RLAInvertedResidual(BaseModule):
    """Inverted residual block with an RLA hidden state.

    ``cat(expand(x), h)`` goes through the depthwise 3x3 conv (stride
    ``stride``) and the linear 1x1 conv; the result ``y`` (after the optional
    ECA) is added to ``x`` when shapes allow. ``y`` then updates ``h``.

    Args:
        in_channels (int): Channels of ``x``.
        out_channels (int): Output channels.
        rla_channel (int): Channels ``k`` of the hidden state.
        stride (int): Stride of the depthwise conv, 1 or 2.
        expand_ratio (float): Expansion of the hidden layer; 1 builds no
            expansion conv.
        rla_cell (RLACell, optional): The cell type of the recurrence; the
            block owns the cell's per-block module (``rla_norm``). Defaults
            to a depthwise ``RLACell(rla_channel)``.
        with_rla_update (bool): Whether this block updates ``h``; False only
            for a last block whose update nothing would consume.
        eca_kernel_size (int, optional): Kernel size of an ECA layer after
            the linear conv; None for no ECA.
        with_cp (bool): Use gradient checkpointing.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activation. Defaults to ReLU6.
        init_cfg (dict, optional): Initialization config.

    Example:
        >>> import torch
        >>> block = RLAInvertedResidual(16, 24, rla_channel=32, stride=2,
        ...                             expand_ratio=6)
        >>> out_conv = torch.nn.Conv2d(24, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, groups=32)
        >>> x, h = torch.rand(2, 16, 9, 9), torch.zeros(2, 32, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 24, 5, 5]), torch.Size([2, 32, 5, 5])]
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int,
                 expand_ratio: float,
                 rla_cell: Optional[RLACell] = None,
                 with_rla_update: bool = True,
                 eca_kernel_size: Optional[int] = None,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride!r}.')
        self.stride = stride
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        self.hidden_channels = hidden
        self.rla_channel = rla_channel
        self.expand_conv = ConvModule(
            in_channels,
            hidden,
            1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg) if expand_ratio != 1 else None
        hidden_rla = hidden + rla_channel
        self.depthwise_conv = ConvModule(
            hidden_rla,
            hidden_rla,
            3,
            stride=stride,
            padding=1,
            groups=hidden_rla,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.linear_conv = ConvModule(
            hidden_rla,
            out_channels,
            1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None)
        self.eca = ECALayer(out_channels,
                            eca_kernel_size) if eca_kernel_size else None
        self.rla_cell = rla_cell or RLACell(
            rla_channel, conv_cfg=conv_cfg, norm_cfg=norm_cfg, depthwise=True)
        # The cell's per-block module (unshared), e.g. its norm.
        self.rla_norm = self.rla_cell.build_own() if with_rla_update else None

    def _branch(self, e: torch.Tensor,
                h: Optional[torch.Tensor]) -> torch.Tensor:
        """``linear_conv(depthwise_conv(cat(e, h)))``; ``h=None`` stands for
        the zero state."""
        channels = [self.hidden_channels, self.rla_channel]
        parts = depthwise_over_concat(self.depthwise_conv, [e, h], channels,
                                      self.rla_cell.fast,
                                      kept_split_weights(self, 'dw_split'))
        return conv_over_concat(self.linear_conv, parts, channels,
                                self.rla_cell.fast,
                                kept_split_weights(self, 'linear_split'))

    def switch_to_deploy(self) -> None:
        """Keep the conv weights split by part instead of slicing them per
        call (inference only)."""
        channels = [self.hidden_channels, self.rla_channel]
        keep_split_weights(self, 'dw_split', self.depthwise_conv.conv.weight,
                           channels, 0)
        keep_split_weights(self, 'linear_split', self.linear_conv.conv.weight,
                           channels, 1)

    def forward(
        self, x: torch.Tensor, h: Optional[torch.Tensor],
        out_conv: Optional[nn.Module], shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Run the block and one RLA step.

        Args:
            x (Tensor): Block input, shape (N, C_in, H, W).
            h (Tensor, optional): Hidden state, shape (N, k, H, W); None
                for the initial all-zero state.
            out_conv (nn.Module, optional): The row's shared 1x1 conv.
            shared (nn.Module, optional): The cell's module shared by the
                stage (the depthwise recurrent 3x3 conv for
                :class:`RLACell`).

        Returns:
            tuple: The block output (N, C_out, H', W') and the new hidden
            state (N, k, H', W'), or None when this block does not update it.
        """

        def _inner_forward(x, h):
            e = x if self.expand_conv is None else self.expand_conv(x)
            y = self._branch(e, self.rla_cell.hidden(h))
            if self.eca is not None:
                y = self.eca(y)
            # Out of place, so the RLA path sees the branch output y, as in
            # the released code.
            out = x + y if self.use_res_connect else y
            if self.rla_norm is None:
                return out, None
            return out, rla_step(self.rla_cell, h, out_conv(y), self.stride,
                                 self.rla_norm, shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


@MODELS.register_module()
class RLAMobileNetV2(RLABackbone):
    """RLA-MobileNetV2 backbone (`Recurrence along Depth
    <https://arxiv.org/abs/2110.11852>`_, NeurIPS 2021).

    The layout follows mmpretrain's ``MobileNetV2``: ``conv1`` (stem),
    ``layer1`` ... ``layer7`` (the rows of the inverted residual table) and
    ``conv2`` (the final 1x1 conv), with ``out_indices`` 0-6 for the layers
    and 7 for ``conv2``. RLA adds:

    - ``rla_out_convs``: one shared 1x1 conv (C -> k) per row (7);
    - ``rla_recurrent_convs``: the depthwise 3x3 conv (k -> k, groups k) of
      each RLA stage. Rows are grouped into 5 stages by resolution (a stage
      starts at row 0 and at every stride-2 row). With
      ``share_recurrent_conv=True`` (default) a single conv serves all
      stages, as in the authors' released weights (3,624,168 parameters with
      the 1000-class classifier, the paper's 3.46M); with False each stage
      has its own, as the paper's text describes (3,625,320, also 3.46M);
    - the classification output (``out_indices`` containing 7):
      ``conv2(cat(x, act(norm(h))))`` with 320 + k input channels.

    Without index 7 (dense prediction), layers after the last output index
    are not built and the last update of ``h`` is not computed, so every
    parameter gets a gradient.

    Args:
        widen_factor (float): Width multiplier of every layer, as in
            mmpretrain's ``MobileNetV2`` (``width_mult``, the old name, is
            still accepted with a warning). Defaults to 1.0.
        rla_channel (int): Channels ``k`` of the hidden state. Defaults to 32.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): Outputs to return: 0-6 for layer1-7,
            7 for conv2. Defaults to (7, ).
        eca_kernel_sizes (Sequence[int], optional): ECA kernel size of each
            of the 7 rows, e.g. ``(1, 1, 1, 1, 3, 3, 3)`` as in the authors'
            RLA-ECA-MobileNetV2 (1 where channels < 96, else 3). None for no
            ECA.
        share_recurrent_conv (bool): One recurrent conv for all stages
            (released weights) or one per stage. Defaults to True.
        cell_cfg (dict, optional): The recurrent unit, built with
            ``channels=rla_channel``, this backbone's ``conv_cfg`` and
            ``norm_cfg`` and ``depthwise=True``; None for the paper's
            ``dict(type='RLACell')``.
        frozen_stages (int): Freeze the stem and layer1..``frozen_stages``
            (eval mode, no gradients), with their RLA convs and norms; 8 also
            freezes conv2 and the final RLA norm. -1 freezes nothing.
        norm_eval (bool): Keep norm layers in eval mode while training.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms.
        act_cfg (dict): Config of the activations. Defaults to ReLU6.
        with_cp (bool): Gradient checkpointing of every block.
        init_cfg (dict or list[dict], optional): Initialization config.

    Example:
        >>> import torch
        >>> model = RLAMobileNetV2()
        >>> [o.shape for o in model(torch.rand(1, 3, 225, 225))]
        [torch.Size([1, 1280, 8, 8])]
        >>> model = RLAMobileNetV2(out_indices=(1, 2, 4, 6))
        >>> model.out_channels
        (24, 32, 96, 320)
    """

    # expand_ratio, channels, num_blocks, stride of each row.
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2],
                     [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
                     [6, 320, 1, 1]]

    head_is_a_stage = True

    @renamed_arguments(width_mult='widen_factor')
    def __init__(
        self,
        widen_factor: float = 1.,
        rla_channel: int = 32,
        in_channels: int = 3,
        out_indices: Sequence[int] = (7, ),
        eca_kernel_sizes: Optional[Sequence[int]] = None,
        share_recurrent_conv: bool = True,
        cell_cfg: Optional[dict] = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU6'),
        with_cp: bool = False,
        init_cfg=DEFAULT_INIT_CFG,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        num_layers = len(self.arch_settings)
        if not isinstance(widen_factor, (int, float)) or widen_factor <= 0:
            raise ValueError(f'widen_factor must be a positive number, got '
                             f'{widen_factor!r}; the paper uses 1.0.')
        self._set_common_args(num_layers, rla_channel, in_channels,
                              out_indices, frozen_stages, norm_eval)
        if eca_kernel_sizes is not None and \
                len(eca_kernel_sizes) != num_layers:
            raise ValueError(
                f'eca_kernel_sizes needs one kernel size per row '
                f'({num_layers}), got {tuple(eca_kernel_sizes)}; '
                'RLA-ECA-MobileNetV2 uses (1, 1, 1, 1, 3, 3, 3), or pass '
                'None for no ECA.')

        self.widen_factor = widen_factor
        self.with_cls_output = num_layers in self.out_indices

        stem_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(
            in_channels,
            stem_channels,
            3,
            stride=2,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

        self.rla_cell = build_rla_cell(
            cell_cfg, rla_channel, conv_cfg, norm_cfg, depthwise=True)
        self.layers: List[str] = []
        self.layer_channels: List[int] = []
        # RLA stage (index into rla_recurrent_convs) of each row.
        self.row_stages: List[int] = []
        out_convs = []
        stage_used = []
        block_in = stem_channels
        for i, (t, c, n, s) in enumerate(self.arch_settings[:self.num_stages]):
            if i == 0 or s != 1:
                stage_used.append(False)
            self.row_stages.append(len(stage_used) - 1)
            out_channels = make_divisible(c * widen_factor, 8)
            # Nothing consumes the last update of a dense-prediction model.
            update_last = self.with_cls_output or i != self.num_stages - 1
            stage_used[-1] |= update_last or n > 1
            layer = self.make_layer(
                num_blocks=n,
                in_channels=block_in,
                out_channels=out_channels,
                stride=s,
                expand_ratio=t,
                update_last=update_last,
                rla_channel=rla_channel,
                rla_cell=self.rla_cell,
                eca_kernel_size=None
                if eca_kernel_sizes is None else eca_kernel_sizes[i],
                with_cp=with_cp,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            block_in = out_channels
            self.add_module(f'layer{i + 1}', layer)
            self.layers.append(f'layer{i + 1}')
            self.layer_channels.append(out_channels)
            # A row whose only block skips the update needs no 1x1 conv.
            out_convs.append(
                build_update_conv(conv_cfg, out_channels, rla_channel
                                  ) if n > 1 or update_last else nn.Identity())
        self.rla_out_convs = nn.ModuleList(out_convs)
        num_recurrent = 1 if share_recurrent_conv else len(stage_used)
        if share_recurrent_conv:
            stage_used = [any(stage_used)]
        self.share_recurrent_conv = share_recurrent_conv
        # The cell's modules shared by the rows of each stage.
        self.rla_recurrent_convs = nn.ModuleList([
            self.rla_cell.build_shared() if stage_used[i] else nn.Identity()
            for i in range(num_recurrent)
        ])

        self._build_readout('norm_act' if self.with_cls_output else None,
                            rla_channel, norm_cfg, act_cfg)
        if self.with_cls_output:
            self.cls_channels = make_divisible(1280 * max(1.0, widen_factor),
                                               8)
            self.conv2 = ConvModule(
                block_in + rla_channel,
                self.cls_channels,
                1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        else:
            self.cls_channels = self.conv2 = None
        self._freeze_stages()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature, in ``out_indices`` order."""
        channels = self.layer_channels + [self.cls_channels]
        return tuple(channels[i] for i in self.out_indices)

    def make_layer(self, num_blocks: int, in_channels: int, out_channels: int,
                   stride: int, update_last: bool, **kwargs) -> nn.Sequential:
        """Build one row of the block table (override it to change the
        blocks of a variant).

        Args:
            num_blocks (int): Blocks in the row.
            in_channels (int): Input channels of the row.
            out_channels (int): Output channels of the row.
            stride (int): Stride of the first block.
            update_last (bool): Whether the last block updates ``h``.
            **kwargs: The remaining block arguments.

        Returns:
            nn.Sequential: The blocks, a plain container (blocks take
            ``(x, h)``, so the backbone iterates them).
        """
        blocks = []
        for j in range(num_blocks):
            blocks.append(
                RLAInvertedResidual(
                    in_channels,
                    out_channels,
                    stride=stride if j == 0 else 1,
                    with_rla_update=update_last or j < num_blocks - 1,
                    **kwargs))
            in_channels = out_channels
        return nn.Sequential(*blocks)

    def _block_rla_modules(self, i: int,
                           j: int) -> Tuple[nn.Module, nn.Module]:
        """The 1x1 conv of row ``i`` and the recurrent conv of its RLA
        stage, which all the row's blocks step with."""
        stage = 0 if self.share_recurrent_conv else self.row_stages[i]
        return self.rla_out_convs[i], self.rla_recurrent_convs[stage]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._check_input(x)
        x, outs, h = self._forward_stages(self.conv1(x))
        if self.with_cls_output:
            outs.append(
                conv_over_concat(self.conv2,
                                 [x, self._readout(self.rla_cell.hidden(h))],
                                 [x.shape[1], self.rla_channel],
                                 self.fast_paths,
                                 kept_split_weights(self, 'conv2_split')))
        return tuple(outs)

    def switch_to_deploy(self) -> 'RLAMobileNetV2':
        """Apply the inference-only rewrites (see :class:`RLABackbone`);
        ``conv2`` keeps its weight split like its input."""
        super().switch_to_deploy()
        if self.with_cls_output:
            keep_split_weights(self, 'conv2_split', self.conv2.conv.weight,
                               [self.layer_channels[-1], self.rla_channel], 1)
        return self

    def _stem_modules(self) -> List[nn.Module]:
        return [self.conv1]

    def _head_modules(self) -> List[Optional[nn.Module]]:
        return [self.rla_out_norm, self.conv2]
