"""Dual path pre-activation ResNet-164, RLA-Net's "DenseNet (DPN)" ablation.

Appendix B.4 of the RLA-Net paper compares its RLA-ResNet-164 with "its
DenseNet variant, i.e., dual path network (DPN)", built by modifying the
CIFAR ResNet-164 "following" Chen et al. (NeurIPS 2017); Table 11 gives
2.13M parameters and 5.99% CIFAR-10 error, and no code was released. DPN
keeps, beside the residual path, a densely connected path: each block's
last 1x1 conv gives ``C + k`` channels, the first ``C`` are added to the
residual path and the last ``k`` appended to the dense path, and the next
block reads both. Where the width changes, the projection shortcut also
starts the stage's dense path with ``2k`` channels (DPN's ``inc * 2``).
``docs/paper_tables.md`` lists what the paper leaves open (k, the 3x3
conv's groups) and which choices give its parameter count.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmrla.registry import MODELS


class DualPathPreActBottleneck(BaseModule):
    """Pre-activation bottleneck over ``cat(residual, dense)``.

    BN-ReLU-conv1x1, BN-ReLU-conv3x3 (strided), BN-ReLU-conv1x1 to
    ``out_channels + growth`` channels, then DPN's split: the first
    ``out_channels`` join the residual path, the rest the dense path.

    Args:
        in_channels (int): Residual plus dense channels of the input.
        out_channels (int): Residual channels of the output.
        growth (int): Dense channels each block adds (k).
        stride (int): Stride of the 3x3 conv (and the projection).
        projection (bool): Whether the block projects the shortcut with a
            1x1 conv to ``out_channels + 2 * growth`` channels, restarting
            the dense path (the first block of a stage).
        groups (int): Groups of the 3x3 conv. Defaults to 1.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms.
        act_cfg (dict): Config of the activations.
        with_cp (bool): Gradient checkpointing.

    Example:
        >>> import torch
        >>> block = DualPathPreActBottleneck(16, 64, growth=12,
        ...                                  projection=True)
        >>> r, d = block(torch.rand(2, 16, 8, 8), None)
        >>> r.shape, d.shape
        (torch.Size([2, 64, 8, 8]), torch.Size([2, 36, 8, 8]))
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 growth: int,
                 stride: int = 1,
                 projection: bool = False,
                 groups: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 with_cp: bool = False) -> None:
        super().__init__()
        mid = out_channels // self.expansion
        self.out_channels = out_channels
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, mid, 1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, mid)[1]
        self.conv2 = build_conv_layer(
            conv_cfg,
            mid,
            mid,
            3,
            stride=stride,
            padding=1,
            groups=groups,
            bias=False)
        self.norm3 = build_norm_layer(norm_cfg, mid)[1]
        self.conv3 = build_conv_layer(
            conv_cfg, mid, out_channels + growth, 1, bias=False)
        self.act = build_activation_layer(act_cfg)
        self.shortcut = build_conv_layer(
            conv_cfg,
            in_channels,
            out_channels + 2 * growth,
            1,
            stride=stride,
            bias=False) if projection else None

    def forward(
            self, residual: torch.Tensor, dense: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor]:

        def _inner_forward(residual, dense):
            x = residual if dense is None else torch.cat([residual, dense], 1)
            pre = self.act(self.norm1(x))
            out = self.conv1(pre)
            out = self.conv2(self.act(self.norm2(out)))
            out = self.conv3(self.act(self.norm3(out)))
            if self.shortcut is not None:
                short = self.shortcut(pre)
                residual = short[:, :self.out_channels]
                dense = short[:, self.out_channels:]
            return (residual + out[:, :self.out_channels],
                    torch.cat([dense, out[:, self.out_channels:]], 1))

        if self.with_cp and residual.requires_grad:
            return cp.checkpoint(
                _inner_forward, residual, dense, use_reentrant=False)
        return _inner_forward(residual, dense)


@MODELS.register_module()
class DualPathPreActResNet(BaseBackbone):
    """Dual path network made from the pre-activation CIFAR ResNet-164.

    The stem (3x3 conv, 16 channels), the three stages of 18 bottlenecks
    (residual widths 64, 128, 256; strides 1, 2, 2) and the final BN-ReLU
    are :class:`RLAPreActResNet`'s ``depth=164`` without RLA; every block is
    a :class:`DualPathPreActBottleneck`. A stage returns
    ``cat(residual, dense)``, ``C + 2k + 18k`` channels (256 + 240 = 496 for
    the last stage with k = 12), after the final BN-ReLU for the last.

    Args:
        growth (int): Dense channels each block adds (k). Defaults to 12,
            RLA-ResNet-164's k.
        groups (int): Groups of each 3x3 conv. Defaults to 1 (ResNet-164's).
        stage_blocks (Sequence[int]): Blocks per stage. Defaults to
            (18, 18, 18).
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Channels of the stem conv. Defaults to 16.
        base_channels (int): The first stage's bottleneck width. Defaults
            to 16.
        out_indices (Sequence[int]): Stages whose outputs are returned.
            Defaults to (2, ).
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms.
        act_cfg (dict): Config of the activations.
        with_cp (bool): Gradient checkpointing of every block.
        init_cfg (dict or list[dict], optional): Initialization config.

    Example:
        >>> import torch
        >>> model = DualPathPreActResNet(stage_blocks=(2, 2, 2))
        >>> [o.shape for o in model(torch.rand(1, 3, 32, 32))]
        [torch.Size([1, 304, 8, 8])]
    """

    strides = (1, 2, 2)

    def __init__(
        self,
        growth: int = 12,
        groups: int = 1,
        stage_blocks: Sequence[int] = (18, 18, 18),
        in_channels: int = 3,
        stem_channels: int = 16,
        base_channels: int = 16,
        out_indices: Sequence[int] = (2, ),
        conv_cfg: Optional[dict] = None,
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        act_cfg: dict = dict(type='ReLU', inplace=True),
        with_cp: bool = False,
        init_cfg=[
            dict(type='Kaiming', layer=['Conv2d']),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(growth, int) or growth < 1:
            raise ValueError(f'growth must be a positive integer, got '
                             f'{growth!r}; the paper\'s RLA uses 12.')
        num_stages = len(stage_blocks)
        if not out_indices or any(not 0 <= i < num_stages
                                  for i in out_indices):
            raise ValueError(f'out_indices must be in 0..{num_stages - 1}, '
                             f'got {tuple(out_indices)}.')
        self.out_indices = tuple(out_indices)
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, stem_channels, 3, padding=1, bias=False)
        self.stages = nn.ModuleList()
        channels = stem_channels
        for i, num_blocks in enumerate(stage_blocks[:max(out_indices) + 1]):
            out_channels = base_channels * 2**i * 4
            blocks = nn.ModuleList()
            for j in range(num_blocks):
                blocks.append(
                    DualPathPreActBottleneck(
                        channels,
                        out_channels,
                        growth,
                        stride=self.strides[i] if j == 0 else 1,
                        projection=j == 0,
                        groups=groups,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        with_cp=with_cp))
                channels = out_channels + (j + 3) * growth
            self.stages.append(blocks)
        # He et al.'s activation after the last unit.
        self.final_norm = build_norm_layer(norm_cfg, channels)[1] \
            if len(self.stages) == num_stages else None
        self.final_act = build_activation_layer(act_cfg)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        residual, dense = self.conv1(x), None
        outs = []
        for i, blocks in enumerate(self.stages):
            for block in blocks:
                residual, dense = block(residual, dense)
            if i in self.out_indices:
                out = torch.cat([residual, dense], 1)
                if self.final_norm is not None and i == len(self.stages) - 1:
                    out = self.final_act(self.final_norm(out))
                outs.append(out)
        return tuple(outs)
