"""RLA-MobileNetV2 (Zhao et al., 2021, appendix B.2.1).

The released ``dsrla_mobilenetv2_k32``: the hidden state ``h`` (k channels)
is concatenated to each inverted residual block's *expanded* features, so the
depthwise 3x3 conv sees ``hidden + k`` channels and the expansion cost does
not grow. The branch output (before the residual add) feeds the row's shared
1x1 conv (C -> k), which is added to ``h``; then ``h`` passes the block's own
norm, tanh and a shared depthwise 3x3 conv (one per resolution stage in the
paper's text, a single one for all stages in the released weights).
"""
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpretrain.models.utils import make_divisible

from mmrla.registry import MODELS
from ..utils import ECALayer, RLACell, build_rla_cell, rla_step
from ..utils.export_ops import AffineNorm, export_step
from ..utils.fold import fold_norm_into_conv, fold_norms
from .base import (DEFAULT_INIT_CFG, RLABackbone, build_update_conv,
                   check_images, checkpointed, renamed_arguments)


def residual_and_step(block: nn.Module,
                      x: torch.Tensor,
                      y: torch.Tensor,
                      h: Optional[torch.Tensor],
                      out_conv: nn.Module,
                      shared: nn.Module,
                      step: Callable = rla_step) -> Tuple[torch.Tensor, ...]:
    """What an inverted residual block does after its branch output ``y``
    (of :class:`RLAInvertedResidual` and its inference form): the ECA, the
    residual sum and the RLA step that ``y`` feeds (``step``, called as
    :func:`~mmrla.models.utils.rla_cell.rla_step`)."""
    if block.eca is not None:
        y = block.eca(y)
    # Out of place, so the RLA path sees the branch output y, as in the
    # released code.
    out = x + y if block.use_res_connect else y
    if block.rla_norm is None:
        return out, None
    return out, step(block.rla_cell, h, out_conv(y), block.stride,
                     block.rla_norm, shared)


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
        if h is None:
            h = e.new_zeros(e.shape[0], self.rla_channel, *e.shape[2:])
        return self.linear_conv(self.depthwise_conv(torch.cat([e, h], 1)))

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
            return residual_and_step(self, x, y, h, out_conv, shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


class RLAInvertedResidualDeploy(nn.Module):
    """The inference form of an :class:`RLAInvertedResidual`, built by
    ``RLAMobileNetV2.switch_to_deploy()``.

    Its batch norms are folded into the convs, and the depthwise conv and
    the linear conv over ``cat(e, h)`` run on ``e`` and on ``h`` apart:
    a depthwise conv and its activation act on each channel alone, and a
    1x1 conv over a concatenation is the sum of the 1x1 convs over its
    parts. So the ``hidden + k`` channel copy is never written, and the
    state runs channels_last, where oneDNN's depthwise convs are several
    times faster on CPU than in NCHW (docs/performance.md). The zero state
    before the first block contributes a constant per output channel, and
    the first step is taken from the update alone; the later steps pool
    ``h`` and apply the block's RLA norm with the ops of
    :mod:`~mmrla.models.utils.export_ops`, so that ONNX Runtime runs the
    whole backbone in its NCHWc layout (docs/deployment.md).

    Args:
        block (RLAInvertedResidual): The block in eval mode; see
            :meth:`can_replace`.

    Example:
        >>> import torch
        >>> block = RLAInvertedResidual(16, 24, 32, stride=2,
        ...                             expand_ratio=6).eval()
        >>> out_conv = torch.nn.Conv2d(24, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, groups=32)
        >>> x, h = torch.rand(2, 16, 9, 9), torch.rand(2, 32, 9, 9)
        >>> with torch.no_grad():
        ...     y, _ = block(x, h, out_conv, rec_conv)
        ...     deployed = RLAInvertedResidualDeploy(block)
        ...     z, _ = deployed(x, h, out_conv, rec_conv)
        >>> bool(torch.allclose(y, z, atol=1e-5))
        True
    """

    def __init__(self, block: RLAInvertedResidual) -> None:
        super().__init__()
        if not self.can_replace(block):
            raise ValueError(
                'RLAInvertedResidualDeploy needs an eval-mode block with '
                'plain convs and batch norms; keep the block as it is.')
        self.stride = block.stride
        self.use_res_connect = block.use_res_connect
        self.rla_channel = block.rla_channel
        self.rla_cell = block.rla_cell
        self.rla_norm = block.rla_norm
        # The norm of the steps from a state (the first step's follows the
        # update conv, into which ONNX Runtime folds it).
        self.rla_affine = AffineNorm.of(block.rla_norm)
        self.eca = block.eca
        self.expand_conv = block.expand_conv
        if self.expand_conv is not None:
            fold_norms(self.expand_conv,
                       [('conv', self.expand_conv.norm_name)])
        hidden = block.hidden_channels
        depthwise = fold_norm_into_conv(block.depthwise_conv.conv,
                                        block.depthwise_conv.norm)
        linear = fold_norm_into_conv(block.linear_conv.conv,
                                     block.linear_conv.norm)
        self.act = block.depthwise_conv.activate
        self.depthwise_e, self.depthwise_h = (
            self._depthwise_part(depthwise, part)
            for part in (slice(0, hidden), slice(hidden, None)))
        like = dict(device=linear.weight.device, dtype=linear.weight.dtype)
        self.linear_e = nn.Conv2d(hidden, linear.out_channels, 1, **like)
        self.linear_h = nn.Conv2d(
            self.rla_channel, linear.out_channels, 1, bias=False, **like)
        with torch.no_grad():
            self.linear_e.weight.copy_(linear.weight[:, :hidden])
            self.linear_e.bias.copy_(linear.bias)
            self.linear_h.weight.copy_(linear.weight[:, hidden:])

    @staticmethod
    def can_replace(block: nn.Module) -> bool:
        """Whether ``block`` is an eval-mode :class:`RLAInvertedResidual`
        whose depthwise and linear conv modules fold exactly."""
        return isinstance(block, RLAInvertedResidual) and \
            not block.training and all(
                m.with_norm and m.order == ('conv', 'norm', 'act')
                and fold_norm_into_conv(m.conv, m.norm) is not None
                for m in (block.depthwise_conv, block.linear_conv))

    @staticmethod
    def _depthwise_part(conv: nn.Conv2d, part: slice) -> nn.Conv2d:
        weight, bias = conv.weight[part], conv.bias[part]
        out = nn.Conv2d(
            weight.shape[0],
            weight.shape[0],
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            groups=weight.shape[0],
            device=weight.device,
            dtype=weight.dtype)
        with torch.no_grad():
            out.weight.copy_(weight)
            out.bias.copy_(bias)
        return out

    def _hidden_part(self, h: Optional[torch.Tensor]) -> torch.Tensor:
        """``linear_h(act(depthwise_h(h)))``: the state's share of the
        branch; for the zero state, ``act`` of the bias, one constant per
        channel."""
        if h is None:
            bias = self.depthwise_h.bias.reshape(1, -1, 1, 1).clone()
            return self.linear_h(self.act(bias))
        return self.linear_h(self.act(self.depthwise_h(h)))

    def forward(
            self, x: torch.Tensor, h: Optional[torch.Tensor],
            out_conv: nn.Module,
            shared: nn.Module) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """What :meth:`RLAInvertedResidual.forward` computes in eval
        mode."""
        if isinstance(h, torch.Tensor):
            # The layout carries through the cell's sums and convs.
            h = h.contiguous(memory_format=torch.channels_last)
        e = x if self.expand_conv is None else self.expand_conv(x)
        y = self.linear_e(self.act(self.depthwise_e(e)))
        y = y + self._hidden_part(self.rla_cell.hidden(h))
        return residual_and_step(self, x, y, h, out_conv, shared,
                                 partial(export_step, affine=self.rla_affine))


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
        check_images(x, self.in_channels, type(self).__name__)
        x, outs, h = self._forward_stages(self.conv1(x))
        if self.with_cls_output:
            h = self._readout(h)
            outs.append(self.conv2(torch.cat([x, h], dim=1)))
        return tuple(outs)

    def switch_to_deploy(self) -> 'RLAMobileNetV2':
        """Inference form (see :class:`RLABackbone`): the batch norms folded
        into their convs and every block that can be replaced by its
        :class:`RLAInvertedResidualDeploy`.

        Returns:
            RLAMobileNetV2: This model.
        """
        self.eval()
        for conv_module in (self.conv1, self.conv2):
            if conv_module is not None:
                fold_norms(conv_module, [('conv', conv_module.norm_name)])
        for name in self.layers:
            layer = getattr(self, name)
            for j, block in enumerate(layer):
                if RLAInvertedResidualDeploy.can_replace(block):
                    layer[j] = RLAInvertedResidualDeploy(block)
        return super().switch_to_deploy()

    def _stem_modules(self) -> List[nn.Module]:
        return [self.conv1]

    def _head_modules(self) -> List[Optional[nn.Module]]:
        return [self.rla_out_norm, self.conv2]
