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
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import (ConvModule, build_activation_layer, build_conv_layer,
                      build_norm_layer)
from mmengine.model import BaseModule
from mmpretrain.models.utils import make_divisible

from mmrla.converters import refuse_unconverted_checkpoints
from mmrla.registry import MODELS
from ..utils import (ECALayer, batch_norm_parts, check_out_indices,
                     check_pretrained_file, derived_weights, fast_tanh_,
                     hidden_state_layout, pool_hidden_state,
                     splittable_batch_norm)
from .base import RLABackbone


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
        # The per-block (unshared) norm of the RLA path.
        self.rla_norm = build_norm_layer(
            norm_cfg, rla_channel)[1] if with_rla_update else None

    def _splittable(self) -> bool:
        """Whether :meth:`_branch_split` computes exactly what the modules
        would: plain convs without bias, a plain ``BatchNorm2d`` and a
        parameter-free (so per-element) activation. Checked on every call,
        since e.g. mmengine's ``sync_bn`` swaps norms after building."""
        dw, linear = self.depthwise_conv, self.linear_conv
        return all(
            type(m.conv) is nn.Conv2d and m.conv.bias is None
            and m.conv.padding_mode == 'zeros' and m.order[0] == 'conv'
            and not m.with_explicit_padding
            and not m.with_spectral_norm for m in (dw, linear)) and \
            dw.order == ('conv', 'norm', 'act') and dw.with_norm and \
            splittable_batch_norm(dw.norm) and \
            not (dw.with_activation and any(
                True for _ in dw.activate.parameters()))

    def _branch_concat(self, e: torch.Tensor,
                       h: Optional[torch.Tensor]) -> torch.Tensor:
        """The depthwise and linear convs over the materialized
        ``cat(e, h)``: the fallback for layers :meth:`_branch_split` cannot
        reproduce."""
        if h is None:
            h = e.new_zeros((e.shape[0], self.rla_channel, *e.shape[2:]))
        return self.linear_conv(self.depthwise_conv(torch.cat([e, h], 1)))

    def _branch_split(self, e: torch.Tensor,
                      h: Optional[torch.Tensor]) -> torch.Tensor:
        """:meth:`_branch_concat` without the concatenation.

        The depthwise conv, its norm and activation act on each channel
        alone, so they run on ``e`` and ``h`` separately; the linear 1x1 conv
        over the concatenation is the sum of its convs over the parts. This
        saves writing and reading a (hidden + k)-channel copy of the largest
        feature map of every block. ``h=None`` (the zero initial state) maps
        to one constant per channel, computed on a 1x1 stand-in (two samples,
        so that training-mode norm statistics stay defined and equal).
        """
        dw, linear = self.depthwise_conv, self.linear_conv
        conv = dw.conv
        split = [self.hidden_channels, self.rla_channel]
        dw_e, dw_h, lin_e, lin_h = derived_weights(
            self, 'split', lambda w_dw, w_lin: tuple(part.contiguous(
            ) for part in w_dw.split(split) + w_lin.split(split, dim=1)),
            conv.weight, linear.conv.weight)
        h_in = e.new_zeros((2, self.rla_channel, 1, 1)) if h is None else h
        parts = [
            F.conv2d(t, w, None, conv.stride, conv.padding, conv.dilation,
                     t.shape[1]) for t, w in ((e, dw_e), (h_in, dw_h))
        ]
        parts = batch_norm_parts(dw.norm, parts)
        if dw.with_activation:
            parts = [dw.activate(t) for t in parts]
        out = F.conv2d(parts[0], lin_e)
        h_part = F.conv2d(parts[1], lin_h)
        # A zero state gives the same (broadcast) response at every pixel.
        out = out.add_(h_part[:1] if h is None else h_part)
        if linear.with_norm:
            out = linear.norm(out)
        if linear.with_activation:
            out = linear.activate(out)
        return out

    def forward(
        self, x: torch.Tensor, h: Optional[torch.Tensor],
        out_conv: Optional[nn.Module], recurrent_conv: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Run the block and one RLA step.

        Args:
            x (Tensor): Block input, shape (N, C_in, H, W).
            h (Tensor, optional): Hidden state, shape (N, k, H, W); None
                for the initial all-zero state.
            out_conv (nn.Module, optional): The row's shared 1x1 conv.
            recurrent_conv (nn.Module, optional): The stage's shared
                depthwise 3x3 conv.

        Returns:
            tuple: The block output (N, C_out, H', W') and the new hidden
            state (N, k, H', W'), or None when this block does not update it.
        """

        def _inner_forward(x, h):
            e = x if self.expand_conv is None else self.expand_conv(x)
            if self._splittable():
                y = self._branch_split(e, h)
            else:
                y = self._branch_concat(e, h)
            if self.eca is not None:
                y = self.eca(y)
            # Out of place, so the RLA path sees the branch output y, as in
            # the released code.
            out = x + y if self.use_res_connect else y
            if self.rla_norm is None:
                return out, None
            update = out_conv(y)
            # The sum takes the layout of its first operand, the state's.
            h = hidden_state_layout(update) if h is None else \
                pool_hidden_state(h, self.stride) + update
            # In place: autograd does not keep the norm's output.
            h = recurrent_conv(fast_tanh_(self.rla_norm(h)))
            return out, h

        if self.with_cp and torch.is_grad_enabled():
            # Non-reentrant checkpointing keeps parameter gradients even when
            # no input requires grad (e.g. after frozen stages).
            return cp.checkpoint(_inner_forward, x, h, use_reentrant=False)
        return _inner_forward(x, h)


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
        width_mult (float): Width multiplier of every layer (mmpretrain's
            ``widen_factor``). Defaults to 1.0.
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

    def __init__(
        self,
        width_mult: float = 1.,
        rla_channel: int = 32,
        in_channels: int = 3,
        out_indices: Sequence[int] = (7, ),
        eca_kernel_sizes: Optional[Sequence[int]] = None,
        share_recurrent_conv: bool = True,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU6'),
        with_cp: bool = False,
        init_cfg=[
            dict(type='Kaiming', layer=['Conv2d']),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        refuse_unconverted_checkpoints(self)
        num_layers = len(self.arch_settings)
        if not isinstance(width_mult, (int, float)) or width_mult <= 0:
            raise ValueError(f'width_mult must be a positive number, got '
                             f'{width_mult!r}; the paper uses 1.0.')
        if not isinstance(rla_channel, int) or rla_channel <= 0:
            raise ValueError(f'rla_channel must be a positive integer, got '
                             f'{rla_channel!r}; the paper uses 32.')
        if eca_kernel_sizes is not None and \
                len(eca_kernel_sizes) != num_layers:
            raise ValueError(
                f'eca_kernel_sizes needs one kernel size per row '
                f'({num_layers}), got {tuple(eca_kernel_sizes)}; '
                'RLA-ECA-MobileNetV2 uses (1, 1, 1, 1, 3, 3, 3), or pass '
                'None for no ECA.')
        out_indices = check_out_indices(
            out_indices, num_layers + 1,
            f'use 0..{num_layers - 1} for layer1..layer{num_layers} and '
            f'{num_layers} for the classification feature (conv2)')
        if not isinstance(frozen_stages, int) or \
                not -1 <= frozen_stages <= num_layers + 1:
            raise ValueError(
                f'frozen_stages must be an integer in -1..{num_layers + 1} '
                f'(-1 freezes nothing, 0 the stem, {num_layers + 1} '
                f'everything), got {frozen_stages!r}.')

        self.width_mult = width_mult
        self.rla_channel = rla_channel
        self.in_channels = in_channels
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cls_output = num_layers in out_indices
        # Layers after the last output would be computed for nothing.
        self.num_layers = num_layers if self.with_cls_output else \
            max(out_indices) + 1

        stem_channels = make_divisible(32 * width_mult, 8)
        self.conv1 = ConvModule(
            in_channels,
            stem_channels,
            3,
            stride=2,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

        self.layers: List[str] = []
        self.layer_channels: List[int] = []
        # RLA stage (index into rla_recurrent_convs) of each row.
        self.row_stages: List[int] = []
        out_convs = []
        stage_used = []
        block_in = stem_channels
        for i, (t, c, n, s) in enumerate(self.arch_settings[:self.num_layers]):
            if i == 0 or s != 1:
                stage_used.append(False)
            self.row_stages.append(len(stage_used) - 1)
            out_channels = make_divisible(c * width_mult, 8)
            blocks = []
            for j in range(n):
                last_block = i == self.num_layers - 1 and j == n - 1
                update = self.with_cls_output or not last_block
                stage_used[-1] |= update
                blocks.append(
                    RLAInvertedResidual(
                        block_in,
                        out_channels,
                        rla_channel,
                        stride=s if j == 0 else 1,
                        expand_ratio=t,
                        with_rla_update=update,
                        eca_kernel_size=None
                        if eca_kernel_sizes is None else eca_kernel_sizes[i],
                        with_cp=with_cp,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                block_in = out_channels
            # A plain container: blocks take (x, h), so no Sequential call.
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{i + 1}')
            self.layer_channels.append(out_channels)
            # A row whose only block skips the update needs no 1x1 conv.
            out_convs.append(
                build_conv_layer(
                    conv_cfg, out_channels, rla_channel, 1, bias=False
                ) if n > 1 or update else None)
        self.rla_out_convs = nn.ModuleList(
            [m if m is not None else nn.Identity() for m in out_convs])
        num_recurrent = 1 if share_recurrent_conv else len(stage_used)
        if share_recurrent_conv:
            stage_used = [any(stage_used)]
        self.share_recurrent_conv = share_recurrent_conv
        self.rla_recurrent_convs = nn.ModuleList([
            build_conv_layer(
                conv_cfg,
                rla_channel,
                rla_channel,
                3,
                padding=1,
                groups=rla_channel,
                bias=False) if stage_used[i] else nn.Identity()
            for i in range(num_recurrent)
        ])

        if self.with_cls_output:
            self.cls_channels = make_divisible(1280 * max(1.0, width_mult), 8)
            self.rla_out_norm = build_norm_layer(norm_cfg, rla_channel)[1]
            self.rla_out_act = build_activation_layer(act_cfg)
            self.conv2 = ConvModule(
                block_in + rla_channel,
                self.cls_channels,
                1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        else:
            self.cls_channels = None
            self.rla_out_norm = self.rla_out_act = self.conv2 = None
        self._freeze_stages()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature, in ``out_indices`` order."""
        channels = self.layer_channels + [self.cls_channels]
        return tuple(channels[i] for i in self.out_indices)

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            check_pretrained_file(self.init_cfg.get('checkpoint'))
        super().init_weights()

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or \
                x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
            raise ValueError(
                f'RLAMobileNetV2 expects images of shape (N, '
                f'{self.in_channels}, H, W), got {shape}; batch single '
                'images with x.unsqueeze(0) or set in_channels.')

    def _recurrent_conv(self, row: int) -> nn.Module:
        stage = 0 if self.share_recurrent_conv else self.row_stages[row]
        return self.rla_recurrent_convs[stage]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._check_input(x)
        x = self.conv1(x)
        # h starts at zero; None lets the first block skip its h part. Later
        # states take x's device and dtype, and their layout from
        # hidden_state_layout.
        h = None
        outs = []
        for i, layer_name in enumerate(self.layers):
            out_conv = self.rla_out_convs[i]
            recurrent_conv = self._recurrent_conv(i)
            for block in getattr(self, layer_name):
                x, h = block(x, h, out_conv, recurrent_conv)
            if i in self.out_indices:
                outs.append(x)
        if self.with_cls_output:
            hidden = self.rla_out_act(self.rla_out_norm(h))
            outs.append(self.conv2(torch.cat([x, hidden], dim=1)))
        return tuple(outs)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = [self.conv1]
        frozen_rows = min(self.frozen_stages, self.num_layers)
        for i in range(frozen_rows):
            modules += [getattr(self, self.layers[i]), self.rla_out_convs[i]]
        # A recurrent conv is frozen once every row that uses it is.
        for stage, conv in enumerate(self.rla_recurrent_convs):
            rows = [
                i for i in range(self.num_layers)
                if self.share_recurrent_conv or self.row_stages[i] == stage
            ]
            if all(i < frozen_rows for i in rows):
                modules.append(conv)
        if self.frozen_stages > len(self.arch_settings) and \
                self.with_cls_output:
            modules += [self.rla_out_norm, self.conv2]
        return modules
