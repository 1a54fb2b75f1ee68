"""RLA-ResNet: ResNet with Recurrent Layer Aggregation (Zhao et al., 2021).

The hidden state ``h`` (``rla_channel`` = k channels) starts at zero at the
stem's resolution. Each block sees ``cat(x, h)`` at its first conv; its
output goes through the stage's *shared* 1x1 conv (C -> k) and is added to
``h`` (pooled first when the block strides); then ``h`` passes the block's
own norm, tanh and the stage's *shared* 3x3 conv.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init
from mmpretrain.models.utils import SELayer

from mmrla.converters import refuse_unconverted_checkpoints
from mmrla.registry import MODELS
from ..utils import (ECALayer, check_out_indices, check_pretrained_file,
                     derived_weights, fast_tanh_, pool_hidden_state)
from .base import RLABackbone

RLA_SOURCES = ('output', 'residual')


class _RLABlock(BaseModule):
    """Shared logic of the RLA residual blocks.

    Subclasses build ``conv1`` (over ``C_in + k`` channels), ``norm1`` ...
    and implement :meth:`_residual_branch`, which maps ``(x, h)`` to the
    branch output before its attention module.

    Args:
        in_channels (int): Channels of ``x`` (``h`` not included).
        out_channels (int): Output channels of the block.
        rla_channel (int): Channels ``k`` of the hidden state.
        stride (int): Stride of the block's spatial conv and shortcut.
        downsample (nn.Module, optional): Shortcut projection.
        with_rla_update (bool): Whether this block updates ``h``. Only the
            very last block of a detection backbone skips it, since nothing
            would consume its update.
        se_ratio (int, optional): Squeeze ratio of an SE layer after the
            branch; None for no SE.
        eca_kernel_size (int, optional): Kernel size of an ECA layer after
            the branch; None for no ECA.
        rla_source (str): What feeds the shared 1x1 conv: ``'output'``, the
            block output after the residual sum and activation, as in the
            authors' released code and weights; or ``'residual'``, the
            residual branch alone, as drawn in the paper's Figure 3.
        with_cp (bool): Use gradient checkpointing for the block.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activation.
        init_cfg (dict, optional): Initialization config.
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 with_rla_update: bool = True,
                 se_ratio: Optional[int] = None,
                 eca_kernel_size: Optional[int] = None,
                 rla_source: str = 'output',
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rla_channel = rla_channel
        self.stride = stride
        self.rla_source = rla_source
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        self.se = SELayer(
            out_channels, ratio=se_ratio, bias=False) if se_ratio else None
        self.eca = ECALayer(out_channels,
                            eca_kernel_size) if eca_kernel_size else None
        # The per-block (unshared) norm of the RLA path.
        self.rla_norm = build_norm_layer(
            norm_cfg, rla_channel)[1] if with_rla_update else None

    def _residual_branch(
            self,
            x: torch.Tensor,
            h: Optional[torch.Tensor],
            x_part: Optional[torch.Tensor] = None) -> torch.Tensor:
        raise NotImplementedError

    def _conv1_with_hidden(
            self,
            x: torch.Tensor,
            h: Optional[torch.Tensor],
            x_part: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``conv1(cat(x, h))``, where ``h=None`` stands for zeros.

        A convolution over a concatenation is the sum of convolutions over
        its parts, so the (C_in + k)-channel input is never materialized:
        that saves a copy of ``x`` per block and the activation memory
        autograd would keep for it. The first block's ``h`` is zero, so its
        part is skipped, and ``x_part`` (the response to ``x``) may come
        precomputed from the previous block. Convs whose weight is not used
        as is (e.g. weight standardization via ``conv_cfg``) take the
        concatenation instead.
        """
        conv = self.conv1
        if type(conv) is not nn.Conv2d:
            if h is None:
                h = x.new_zeros((x.shape[0], self.rla_channel, *x.shape[2:]))
            return conv(torch.cat([x, h], dim=1))
        w_x, w_h = derived_weights(
            self, 'conv1_split',
            lambda w: tuple(part.contiguous() for part in w.split(
                [self.in_channels, self.rla_channel], dim=1)), conv.weight)
        if x_part is None:
            x_part = F.conv2d(x, w_x, None, conv.stride, conv.padding,
                              conv.dilation)
        if h is None:
            return x_part
        # In place into the fresh h part: x_part may be a view of a fused
        # conv's output, which autograd forbids modifying.
        return F.conv2d(h, w_h, None, conv.stride, conv.padding,
                        conv.dilation).add_(x_part)

    def forward(
        self,
        x: torch.Tensor,
        h: Optional[torch.Tensor],
        out_conv: nn.Module,
        recurrent_conv: nn.Module,
        x_part: Optional[torch.Tensor] = None,
        next_conv: Optional[nn.Conv2d] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Run the block and one RLA step.

        Args:
            x (Tensor): Block input, shape (N, C_in, H, W).
            h (Tensor, optional): Hidden state, shape (N, k, H, W); None
                for the initial all-zero state.
            out_conv (nn.Module): The stage's shared 1x1 conv (C_out -> k).
            recurrent_conv (nn.Module): The stage's shared 3x3 conv.
            x_part (Tensor, optional): This block's ``conv1`` response to
                ``x`` alone, computed by the previous block's fused conv.
            next_conv (nn.Conv2d, optional): The next block's 1x1 ``conv1``.
                Its ``x`` part and ``out_conv`` both read this block's
                output, so they run as one convolution: one pass over the
                feature map instead of two, and a well-shaped kernel instead
                of a slow k-channel one. Needs ``rla_source='output'``.

        Returns:
            tuple: The block output (N, C_out, H', W'); the new hidden state
            (N, k, H', W'), or None when this block does not update it; the
            next block's ``x_part`` when ``next_conv`` is given, else None.
        """

        def _inner_forward(x, h, x_part):
            branch = self._residual_branch(x, h, x_part)
            if self.se is not None:
                branch = self.se(branch)
            if self.eca is not None:
                branch = self.eca(branch)
            identity = x if self.downsample is None else self.downsample(x)
            if self.rla_source == 'output':
                # In place: the branch is not needed any more, and a fresh
                # full-size feature map costs more than the addition.
                out = self.relu(branch.add_(identity))
            else:
                out = self.relu(branch + identity)
            if self.rla_norm is None:
                return out, None, None
            next_x_part = None
            if next_conv is not None:
                weight = derived_weights(
                    self, 'fused_update', lambda w_next, w_out: torch.cat(
                        [w_next[:, :self.out_channels], w_out]),
                    next_conv.weight, out_conv.weight)
                next_x_part, update = F.conv2d(out, weight).split(
                    [next_conv.out_channels, self.rla_channel], dim=1)
            else:
                update = out_conv(out if self.rla_source ==
                                  'output' else branch)
            h = update if h is None else \
                pool_hidden_state(h, self.stride) + update
            # In place: autograd does not keep the norm's output.
            h = recurrent_conv(fast_tanh_(self.rla_norm(h)))
            return out, h, next_x_part

        if self.with_cp and torch.is_grad_enabled():
            # Non-reentrant checkpointing keeps parameter gradients even when
            # no input requires grad (e.g. after frozen stages).
            return cp.checkpoint(
                _inner_forward, x, h, x_part, use_reentrant=False)
        return _inner_forward(x, h, x_part)


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
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)[:2]]
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
            in_channels + rla_channel,
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

    def _residual_branch(
            self,
            x: torch.Tensor,
            h: Optional[torch.Tensor],
            x_part: Optional[torch.Tensor] = None) -> torch.Tensor:
        out = self._conv1_with_hidden(x, h, x_part)
        out = self.relu(getattr(self, self.norm1_name)(out))
        return self.last_norm(self.conv2(out))


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
        >>> block = RLABottleneck(64, 256, rla_channel=32)
        >>> out_conv = torch.nn.Conv2d(256, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 64, 9, 9), torch.zeros(2, 32, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)[:2]]
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
            in_channels + rla_channel,
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

    def _residual_branch(
            self,
            x: torch.Tensor,
            h: Optional[torch.Tensor],
            x_part: Optional[torch.Tensor] = None) -> torch.Tensor:
        out = self._conv1_with_hidden(x, h, x_part)
        out = self.relu(getattr(self, self.norm1_name)(out))
        out = self.relu(getattr(self, self.norm2_name)(self.conv2(out)))
        return self.last_norm(self.conv3(out))


@MODELS.register_module()
class RLAResNet(RLABackbone):
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
        out_indices (Sequence[int]): Stages whose features are returned.
            Negative indices count from the end. Defaults to (3, ).
        concat_hidden (bool): Classification mode, see above. It needs the
            last stage among ``out_indices``. Defaults to True.
        eca_kernel_sizes (Sequence[int], optional): ECA kernel size of each
            stage, placed after the branch's last norm, e.g. (5, 5, 5, 7) as
            in RLA-ECANet. None for no ECA.
        se_ratio (int, optional): SE squeeze ratio (16 in the authors' code).
            None for no SE.
        groups (int): ResNeXt cardinality of the 3x3 convs. Defaults to 1.
        base_width (int): ResNeXt width per group. Defaults to 64.
        rla_source (str): ``'output'`` (authors' code and weights) or
            ``'residual'`` (paper's Figure 3); see :class:`_RLABlock`.
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
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        act_cfg: dict = dict(type='ReLU', inplace=True),
        with_cp: bool = False,
        zero_init_residual: bool = True,
        init_cfg=[
            dict(type='Kaiming', layer=['Conv2d']),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        refuse_unconverted_checkpoints(self)
        if depth not in self.arch_settings:
            raise ValueError(
                f'Invalid depth {depth!r} for RLAResNet; choose one of '
                f'{sorted(self.arch_settings)}.')
        if not isinstance(rla_channel, int) or rla_channel <= 0:
            raise ValueError(f'rla_channel must be a positive integer, got '
                             f'{rla_channel!r}; the paper uses 32.')
        if not 1 <= num_stages <= 4:
            raise ValueError(
                f'num_stages must be in 1..4, got {num_stages!r}.')
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
        if rla_source not in RLA_SOURCES:
            raise ValueError(f'rla_source must be one of {RLA_SOURCES}, got '
                             f'{rla_source!r}.')
        out_indices = check_out_indices(
            out_indices, num_stages,
            f'use 0..{num_stages - 1} for {num_stages} stages (or negatives '
            'from the end)')
        last_stage = num_stages - 1
        if concat_hidden and last_stage not in out_indices:
            raise ValueError(
                f'concat_hidden=True appends h to the last stage, so '
                f'out_indices must contain {last_stage}, got {out_indices}. '
                'For detection features use concat_hidden=False.')
        if not concat_hidden and max(out_indices) != last_stage:
            raise ValueError(
                f'Stages after out index {max(out_indices)} would be computed '
                f'but unused (their parameters would get no gradient); set '
                f'num_stages={max(out_indices) + 1} or add {last_stage} to '
                'out_indices.')
        if not isinstance(frozen_stages, int) or \
                not -1 <= frozen_stages <= num_stages:
            raise ValueError(
                f'frozen_stages must be an integer in -1..{num_stages} (-1 '
                f'freezes nothing, 0 the stem only), got {frozen_stages!r}.')

        self.depth = depth
        self.rla_channel = rla_channel
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.concat_hidden = concat_hidden
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual
        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]

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
        rla_out_convs, rla_recurrent_convs = [], []
        block_in = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            stage_out = base_channels * 2**i * self.block.expansion
            blocks = []
            for j in range(num_blocks):
                stride = strides[i] if j == 0 else 1
                downsample = None
                if stride != 1 or block_in != stage_out:
                    downsample = nn.Sequential(
                        build_conv_layer(
                            conv_cfg,
                            block_in,
                            stage_out,
                            1,
                            stride=stride,
                            bias=False),
                        build_norm_layer(norm_cfg, stage_out)[1])
                last_block = i == last_stage and j == num_blocks - 1
                blocks.append(
                    self.block(
                        block_in,
                        stage_out,
                        rla_channel,
                        stride=stride,
                        groups=groups,
                        base_width=base_width,
                        downsample=downsample,
                        with_rla_update=concat_hidden or not last_block,
                        se_ratio=se_ratio,
                        eca_kernel_size=None
                        if eca_kernel_sizes is None else eca_kernel_sizes[i],
                        rla_source=rla_source,
                        with_cp=with_cp,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                block_in = stage_out
            layer_name = f'layer{i + 1}'
            # A plain container: blocks take (x, h), so no Sequential call.
            self.add_module(layer_name, nn.Sequential(*blocks))
            self.res_layers.append(layer_name)
            self.stage_channels.append(stage_out)
            rla_out_convs.append(
                build_conv_layer(
                    conv_cfg, stage_out, rla_channel, 1, bias=False))
            rla_recurrent_convs.append(
                build_conv_layer(
                    conv_cfg,
                    rla_channel,
                    rla_channel,
                    3,
                    padding=1,
                    bias=False))
        self.rla_out_convs = nn.ModuleList(rla_out_convs)
        self.rla_recurrent_convs = nn.ModuleList(rla_recurrent_convs)
        if concat_hidden:
            self.rla_out_norm = build_norm_layer(norm_cfg, rla_channel)[1]
            self.rla_out_act = build_activation_layer(act_cfg)
        else:
            self.rla_out_norm = self.rla_out_act = None
        self._freeze_stages()

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature, in ``out_indices`` order."""
        channels = [self.stage_channels[i] for i in self.out_indices]
        if self.concat_hidden:
            channels[-1] += self.rla_channel
        return tuple(channels)

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            check_pretrained_file(self.init_cfg.get('checkpoint'))
            super().init_weights()
            # Pretrained weights must not be overwritten by zero init.
            return
        super().init_weights()
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, _RLABlock):
                    constant_init(m.last_norm, 0)

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or \
                x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
            raise ValueError(
                f'RLAResNet expects images of shape (N, {self.in_channels}, '
                f'H, W), got {shape}; batch single images with '
                'x.unsqueeze(0) or set in_channels.')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._check_input(x)
        x = self.maxpool(self.relu(self.norm1(self.conv1(x))))
        # h starts at zero; None lets the first block skip its h part, and
        # later states inherit x's device, dtype and memory format.
        h = x_part = None
        outs = []
        blocks = [(i, block) for i, name in enumerate(self.res_layers)
                  for block in getattr(self, name)]
        for n, (i, block) in enumerate(blocks):
            out_conv = self.rla_out_convs[i]
            next_block = blocks[n + 1][1] if n + 1 < len(blocks) else None
            next_conv = next_block.conv1 if self._fusable(
                block, out_conv, next_block) else None
            x, h, x_part = block(x, h, out_conv, self.rla_recurrent_convs[i],
                                 x_part, next_conv)
            if i in self.out_indices and (next_block is None
                                          or blocks[n + 1][0] != i):
                outs.append(x)
        if self.concat_hidden:
            hidden = self.rla_out_act(self.rla_out_norm(h))
            outs[-1] = torch.cat([outs[-1], hidden], dim=1)
        return tuple(outs)

    @staticmethod
    def _fusable(block: _RLABlock, out_conv: nn.Module,
                 next_block: Optional[_RLABlock]) -> bool:
        """Whether ``block``'s RLA update can share one conv with the next
        block's ``conv1`` (see :meth:`_RLABlock.forward`): both must be plain
        1x1 convs over the block output."""
        if next_block is None or block.rla_norm is None or \
                block.rla_source != 'output':
            return False
        conv = next_block.conv1
        return type(out_conv) is nn.Conv2d and type(conv) is nn.Conv2d and \
            conv.kernel_size == (1, 1) and conv.stride == (1, 1) and \
            conv.padding == (0, 0) and conv.groups == 1 and \
            conv.dilation == (1, 1)

    def _stage_modules(self, i: int):
        """Modules of stage ``i`` (1-based), its shared RLA convs included."""
        modules = [
            getattr(self, f'layer{i}'), self.rla_out_convs[i - 1],
            self.rla_recurrent_convs[i - 1]
        ]
        if i == self.num_stages and self.rla_out_norm is not None:
            modules.append(self.rla_out_norm)
        return modules

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = [self.conv1, self.norm1]
        for i in range(1, self.frozen_stages + 1):
            modules += self._stage_modules(i)
        return modules
