"""DenseNet-BC for CIFAR and the two shared-1x1 simplifications of RLA-Net
section 3.2 (Table 1, Figure 3; appendix A.2).

DenseNet layer ``t`` of a dense block (Eq. 3) is
``x_t = Conv3x3_t(Conv1x1_t(cat(x_0, ..., x_{t-1})))`` (each conv preceded by
BN-ReLU), where ``x_0`` is the block input and ``x_1..x_{t-1}`` the outputs
of the earlier layers. The 1x1 conv on the concatenation is a sum over the
sources, ``sum_s W_{t,s} x_s`` (Eq. 4), with a separate ``W_{t,s}`` for
every (layer, source) pair. The paper's two simplifications share these
matrices inside a dense block:

- ``'shared_lag'`` (Eq. 9): ``W_{t,s} = W_{t-s}`` depends on the lag only,
  as in an autoregressive model. Appendix A.2 implements it with a "conveyor
  belt" that keeps the previous outputs ordered from the most recent to the
  most distant, in front of one 1x1 conv shared by the block's layers.
- ``'shared_ordinal'`` (Eq. 10): ``W_{t,s} = W_s`` depends on the source
  layer only (the ResNet pattern of section 3.1): the same shared conv, its
  inputs ordered by source index and no conveyor belt.

The block input ``x_0`` has ``c_0`` channels (24, 108, 150 in DenseNet-BC
100), not the growth rate k = 12 of the later layers, so the part of the 1x1
conv that reads ``x_0`` stays per layer (section 3.2: "we keep the
convolutions applied to x_0 unchanged"). The shared conv of a block with n
layers has ``n - 1`` slots of k input channels (a layer sees at most
``n - 1`` earlier outputs); slot j is lag j or source layer ``x_j``.

The text leaves open whether the norms are shared too; they stay per layer
(a lag slot sees a different source at every layer), only conv weights are
shared, and the convs get Huang et al.'s initialization. docs/cifar.md
gives the parameter arithmetic against the paper's Table 1 (checked by
``tests/test_models/test_backbones/test_layer_aggregation_densenet.py``).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmrla.registry import MODELS
from ..utils import check_choice, check_positive_int
from .base import (StageFreezing, check_frozen_stages, check_images,
                   checkpointed, stages_to_build)

AGGREGATIONS = ('dense', 'shared_lag', 'shared_ordinal')
NORMS = ('mean_abs', 'l2')


def check_aggregation(aggregation: str) -> None:
    """Raise a ValueError unless ``aggregation`` is one of
    :data:`AGGREGATIONS`."""
    check_choice(aggregation, AGGREGATIONS, 'aggregation')


def weight_norm(weight: torch.Tensor, norm: str = 'mean_abs') -> torch.Tensor:
    """Summarize a weight tensor as one number.

    Args:
        weight (Tensor): Any shape.
        norm (str): ``'mean_abs'``, the average absolute weight of DenseNet's
            Figure 5 (independent of the number of entries), or ``'l2'``,
            the Frobenius norm.

    Returns:
        Tensor: A scalar, detached.

    Example:
        >>> import torch
        >>> w = torch.tensor([[3., -4.]])
        >>> weight_norm(w).item(), weight_norm(w, 'l2').item()
        (3.5, 5.0)
    """
    check_choice(norm, NORMS, 'norm')
    weight = weight.detach()
    return weight.abs().mean() if norm == 'mean_abs' else weight.norm()


class SharedAggregationConv(nn.Conv2d):
    """The 1x1 conv a dense block's layers share (Eq. 9 or Eq. 10).

    Its weight has ``num_slots`` slots of ``growth_rate`` input channels;
    slot j (1-based) is ``W_j``: the weight of lag j (``mode='lag'``) or of
    source layer ``x_j`` (``mode='ordinal'``). Layer t uses the first
    ``t - 1`` slots; :meth:`layer_weight` arranges them to act on
    ``cat(x_1, ..., x_{t-1})`` in source order, which DenseNet's per-layer
    norm produces.

    Called as a module, it is the conv of appendix A.2's Figure 5: applied
    to the full storage of ``num_slots`` previous outputs, ordered from the
    most recent (lag mode, the conveyor belt) or by source index (ordinal
    mode), with zeros as placeholders for outputs that do not exist yet.

    Args:
        num_slots (int): Number of shared matrices (the block's layers - 1).
        growth_rate (int): Channels of a layer output, k.
        out_channels (int): Channels of the bottleneck, ``bn_size * k``.
        mode (str): ``'lag'`` or ``'ordinal'``.

    Example:
        >>> import torch
        >>> conv = SharedAggregationConv(3, growth_rate=2, out_channels=5,
        ...                              mode='lag')
        >>> conv.weight.shape, conv.layer_weight(3).shape
        (torch.Size([5, 6, 1, 1]), torch.Size([5, 4, 1, 1]))
        >>> # Layer 3 applies lag 1 (slot 1) to x_2, its second input.
        >>> torch.equal(conv.layer_weight(3)[:, 2:], conv.slot(1))
        True
    """

    def __init__(self, num_slots: int, growth_rate: int, out_channels: int,
                 mode: str) -> None:
        if mode not in ('lag', 'ordinal'):
            raise ValueError(f"mode must be 'lag' or 'ordinal', got {mode!r}.")
        super().__init__(
            num_slots * growth_rate, out_channels, kernel_size=1, bias=False)
        self.num_slots = num_slots
        self.growth_rate = growth_rate
        self.mode = mode

    def slot(self, j: int) -> torch.Tensor:
        """``W_j``, shape (out_channels, growth_rate, 1, 1)."""
        if not 1 <= j <= self.num_slots:
            raise IndexError(f'slot {j} is out of range 1..{self.num_slots}.')
        k = self.growth_rate
        return self.weight[:, (j - 1) * k:j * k]

    def layer_weight(self, t: int) -> torch.Tensor:
        """The weights of layer t (1-based) on ``cat(x_1, ..., x_{t-1})``.

        Returns:
            Tensor: Shape (out_channels, (t - 1) * growth_rate, 1, 1); source
            ``x_s`` meets ``W_{t-s}`` (lag) or ``W_s`` (ordinal).
        """
        if not 1 <= t <= self.num_slots + 1:
            raise IndexError(
                f'layer {t} is out of range 1..{self.num_slots + 1}.')
        weight = self.weight[:, :(t - 1) * self.growth_rate]
        if self.mode == 'lag':
            # Slots are ordered by lag 1, 2, ..., t-1, i.e. sources x_{t-1},
            # ..., x_1: reverse the slot order to meet the source order.
            weight = weight.unflatten(1, (t - 1, self.growth_rate)).flip(1)
            weight = weight.flatten(1, 2)
        return weight


class AggregationDenseLayer(BaseModule):
    """Bottleneck layer of DenseNet-BC: BN-ReLU-Conv1x1-BN-ReLU-Conv3x3.

    The 1x1 conv's weight comes from the caller (see
    :meth:`AggregationDenseBlock.conv1_weight`): ``conv1`` itself for the
    dense variant, ``conv1`` (on ``x_0``) followed by the block's shared
    weights for the shared variants. Attribute names follow mmpretrain's
    ``DenseLayer``.

    Args:
        init_channels (int): Channels of the block input ``x_0``.
        index (int): t, the 1-based position in the block; the layer reads
            ``x_0`` and ``t - 1`` earlier outputs.
        growth_rate (int): Output channels, k.
        bn_size (int): Bottleneck width in units of k.
        shared (bool): Whether the weights on ``x_1..x_{t-1}`` are shared
            (then ``conv1`` reads ``x_0`` only).
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activation.
        drop_rate (float): Dropout after the 3x3 conv.
        with_cp (bool): Recompute the concatenation, norm and 1x1 conv in
            the backward pass (memory-efficient DenseNet).
        init_cfg (dict, optional): Initialization config.

    Example:
        >>> import torch
        >>> layer = AggregationDenseLayer(24, index=3, growth_rate=12,
        ...                               bn_size=4, shared=False)
        >>> xs = [torch.rand(2, 24, 8, 8)] + [torch.rand(2, 12, 8, 8)] * 2
        >>> layer(xs, layer.conv1.weight).shape
        torch.Size([2, 12, 8, 8])
    """

    def __init__(self,
                 init_channels: int,
                 index: int,
                 growth_rate: int,
                 bn_size: int,
                 shared: bool,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 drop_rate: float = 0.,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = init_channels + (index - 1) * growth_rate
        width = bn_size * growth_rate
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = build_conv_layer(
            None,
            init_channels if shared else in_channels,
            width,
            kernel_size=1,
            bias=False)
        self.norm2 = build_norm_layer(norm_cfg, width)[1]
        self.conv2 = build_conv_layer(
            None, width, growth_rate, kernel_size=3, padding=1, bias=False)
        self.act = build_activation_layer(act_cfg)
        self.drop_rate = float(drop_rate)
        self.with_cp = with_cp

    def _bottleneck(self, weight: torch.Tensor, *features:
                    torch.Tensor) -> torch.Tensor:
        out = self.act(self.norm1(torch.cat(features, 1)))
        return F.conv2d(out, weight)

    def forward(self, features: List[torch.Tensor],
                conv1_weight: torch.Tensor) -> torch.Tensor:
        """Compute ``x_t`` from ``[x_0, ..., x_{t-1}]``.

        Args:
            features (list[Tensor]): ``x_0`` (N, c_0, H, W) and the earlier
                outputs (N, k, H, W), in source order.
            conv1_weight (Tensor): The 1x1 weights on their concatenation,
                (bn_size * k, c_0 + (t - 1) * k, 1, 1).

        Returns:
            Tensor: (N, k, H, W).
        """
        out = checkpointed(self._bottleneck, self.with_cp, conv1_weight,
                           *features)
        out = self.conv2(self.act(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class AggregationDenseBlock(BaseModule):
    """A dense block whose 1x1 convs are per layer or shared (Eq. 9, 10).

    Args:
        num_layers (int): Number of bottleneck layers, n.
        in_channels (int): Channels of the block input, ``c_0``.
        growth_rate (int): k.
        bn_size (int): Bottleneck width in units of k.
        aggregation (str): ``'dense'``, ``'shared_lag'`` or
            ``'shared_ordinal'``.
        norm_cfg, act_cfg, drop_rate, with_cp: See
            :class:`AggregationDenseLayer`.
        init_cfg (dict, optional): Initialization config.

    Example:
        >>> import torch
        >>> block = AggregationDenseBlock(4, 16, growth_rate=12, bn_size=4,
        ...                               aggregation='shared_lag')
        >>> block(torch.rand(2, 16, 8, 8)).shape
        torch.Size([2, 64, 8, 8])
        >>> block.shared_conv.weight.shape  # 3 slots of 12 channels
        torch.Size([48, 36, 1, 1])
    """

    def __init__(self,
                 num_layers: int,
                 in_channels: int,
                 growth_rate: int,
                 bn_size: int,
                 aggregation: str = 'dense',
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 drop_rate: float = 0.,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_aggregation(aggregation)
        shared = aggregation != 'dense'
        if shared and num_layers < 2:
            raise ValueError(
                f"aggregation='{aggregation}' shares the 1x1 convs on earlier "
                'layer outputs, which a dense block of one layer does not '
                'have: use at least 2 layers per block (depth >= 16).')
        self.aggregation = aggregation
        self.in_channels = in_channels
        self.growth_rate = growth_rate
        self.block = nn.ModuleList([
            AggregationDenseLayer(
                in_channels,
                t,
                growth_rate,
                bn_size,
                shared=shared,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                drop_rate=drop_rate,
                with_cp=with_cp) for t in range(1, num_layers + 1)
        ])
        self.shared_conv = SharedAggregationConv(
            num_layers - 1,
            growth_rate,
            bn_size * growth_rate,
            mode=aggregation[len('shared_'):]) if shared else None
        self.out_channels = in_channels + num_layers * growth_rate

    def conv1_weight(self, t: int) -> torch.Tensor:
        """The 1x1 weights of layer t (1-based) on ``cat(x_0..x_{t-1})``:
        ``[W_{t,0}, W_{t,1}, ..., W_{t,t-1}]`` along the input channels."""
        weight = self.block[t - 1].conv1.weight
        if self.shared_conv is None or t == 1:
            return weight
        return torch.cat([weight, self.shared_conv.layer_weight(t)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for t, layer in enumerate(self.block, 1):
            features.append(layer(features, self.conv1_weight(t)))
        return torch.cat(features, 1)

    def source_weight_norms(self, norm: str = 'mean_abs') -> torch.Tensor:
        """DenseNet's Figure 5 for this block: the norm of ``W_{t,s}``.

        Returns:
            Tensor: (n, n), row t - 1, column s (s = 0 is the block input);
            NaN where s >= t (no connection).
        """
        n, k, c0 = len(self.block), self.growth_rate, self.in_channels
        table = torch.full((n, n), float('nan'), dtype=torch.float64)
        for t in range(1, n + 1):
            weight = self.conv1_weight(t)
            table[t - 1, 0] = weight_norm(weight[:, :c0], norm)
            for s in range(1, t):
                chunk = weight[:, c0 + (s - 1) * k:c0 + s * k]
                table[t - 1, s] = weight_norm(chunk, norm)
        return table


@MODELS.register_module()
class LayerAggregationDenseNet(StageFreezing, BaseBackbone):
    """DenseNet-BC for CIFAR with per-layer or shared 1x1 convs.

    Huang et al.'s CIFAR DenseNet-BC: a 3x3 conv of ``2k`` channels, three
    dense blocks of ``n = (depth - 4) / 6`` bottleneck layers
    (BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k)), transitions
    BN-ReLU-Conv1x1-AvgPool2 that halve the channels (compression 0.5), and
    BN-ReLU after the last block. ``aggregation`` selects the original
    per-layer 1x1 convs (``'dense'``, Eq. 3) or one shared 1x1 conv per block
    indexed by lag (``'shared_lag'``, Eq. 9) or by source layer
    (``'shared_ordinal'``, Eq. 10); the convs on the block input stay per
    layer (docs/cifar.md gives the reconstruction and the parameter
    arithmetic: 769,162 / 587,722 / 587,722 with a 10-class head, the paper's
    0.80M / 0.60M / 0.60M).

    The output of stage i is taken after its transition, as in mmpretrain's
    ``DenseNet`` (DenseNet-BC 100: 108, 150 and 342 channels at strides 2, 4
    and 4). Stages after the last requested output are not built, so every
    parameter gets a gradient.

    Args:
        depth (int): Depth L = 6n + 4 (100 for DenseNet-BC 100).
        growth_rate (int): k. Defaults to 12.
        aggregation (str): ``'dense'``, ``'shared_lag'`` or
            ``'shared_ordinal'``. Defaults to ``'dense'``.
        bn_size (int): Bottleneck width in units of k. Defaults to 4.
        compression_factor (float): Channel reduction of the transitions, in
            (0, 1]. Defaults to 0.5.
        stem_channels (int, optional): Output channels of the first conv;
            None: ``2 * growth_rate``.
        in_channels (int): Image channels. Defaults to 3.
        drop_rate (float): Dropout after each 3x3 conv. Defaults to 0 (as
            Huang et al. with data augmentation).
        out_indices (Sequence[int] | int): Stages to output (0..2).
            Defaults to (2, ).
        frozen_stages (int): -1: nothing frozen; 0: the first conv; i: the
            first conv and stages 0..i-1 with their transitions and shared
            convs. Defaults to -1.
        norm_eval (bool): Keep the norm layers in eval mode while training.
        with_cp (bool): Gradient checkpointing of each layer's
            concatenation, norm and 1x1 conv.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activations.
        init_cfg (dict | list[dict], optional): Initialization config.

    Example:
        >>> import torch
        >>> model = LayerAggregationDenseNet(depth=100,
        ...                                  aggregation='shared_lag')
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 342, 8, 8)]
        >>> [len(w) for w in model.shared_weight_norms()]  # 15 lags a block
        [15, 15, 15]
        >>> model = LayerAggregationDenseNet(depth=22, out_indices=(0, 1, 2))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 9, 9))]
        [(1, 30, 4, 4), (1, 33, 2, 2), (1, 69, 2, 2)]
    """

    num_blocks = 3

    def __init__(
        self,
        depth: int = 100,
        growth_rate: int = 12,
        aggregation: str = 'dense',
        bn_size: int = 4,
        compression_factor: float = 0.5,
        stem_channels: Optional[int] = None,
        in_channels: int = 3,
        drop_rate: float = 0.,
        out_indices: Union[int, Sequence[int]] = (2, ),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        with_cp: bool = False,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg: Optional[Union[dict, List[dict]]] = [
            dict(
                type='Kaiming',
                layer=['Conv2d'],
                mode='fan_out',
                nonlinearity='relu'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        check_aggregation(aggregation)
        if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
            raise ValueError(
                f'depth must be 6n + 4 with n >= 1 (three dense blocks of n '
                f'bottleneck layers, e.g. 100 for DenseNet-BC 100), got '
                f'{depth!r}.')
        check_positive_int(growth_rate, 'growth_rate', 'DenseNet-BC uses 12')
        check_positive_int(bn_size, 'bn_size', 'DenseNet-BC uses 4')
        check_positive_int(in_channels, 'in_channels', 'images have 3')
        if not 0 < compression_factor <= 1:
            raise ValueError('compression_factor must be in (0, 1] (0.5 for '
                             f'DenseNet-BC), got {compression_factor!r}.')
        check_frozen_stages(
            frozen_stages, self.num_blocks,
            '-1: none, 0: the first conv, i: it and stages 0..i-1')
        self.depth = depth
        self.aggregation = aggregation
        self.growth_rate = growth_rate
        self.in_channels = in_channels
        self.layers_per_block = (depth - 4) // 6
        self.out_indices, self.num_stages = stages_to_build(
            out_indices, self.num_blocks, self.num_blocks,
            f'use 0..{self.num_blocks - 1} (the dense blocks)')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        stem_channels = stem_channels or 2 * growth_rate

        self.stem = build_conv_layer(
            None, in_channels, stem_channels, 3, padding=1, bias=False)
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        channels, out_channels = stem_channels, []
        for i in range(self.num_stages):
            stage = AggregationDenseBlock(
                self.layers_per_block,
                channels,
                growth_rate,
                bn_size,
                aggregation,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                drop_rate=drop_rate,
                with_cp=with_cp)
            self.stages.append(stage)
            channels = stage.out_channels
            if i < self.num_blocks - 1:
                out = int(channels * compression_factor)
                # Named as mmpretrain's DenseTransition, whose state dict
                # keys this matches.
                transition = nn.Sequential()
                transition.add_module('norm',
                                      build_norm_layer(norm_cfg, channels)[1])
                transition.add_module('act', build_activation_layer(act_cfg))
                transition.add_module(
                    'conv',
                    build_conv_layer(None, channels, out, 1, bias=False))
                transition.add_module('pool', nn.AvgPool2d(2, stride=2))
                channels = out
            else:
                # Huang et al.'s final BN-ReLU, before global pooling.
                transition = nn.Sequential(
                    build_norm_layer(norm_cfg, channels)[1],
                    build_activation_layer(act_cfg))
            self.transitions.append(transition)
            out_channels.append(channels)
        self.out_channels = tuple(out_channels[i] for i in self.out_indices)
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        check_images(x, self.in_channels, type(self).__name__)
        x = self.stem(x)
        outs = []
        for i, (stage,
                transition) in enumerate(zip(self.stages, self.transitions)):
            x = transition(stage(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def shared_weight_norms(self,
                            norm: str = 'mean_abs') -> List[torch.Tensor]:
        """The shared 1x1 weights of each dense block, slot by slot (the
        values of the paper's Figure 3).

        Args:
            norm (str): ``'mean_abs'`` (average absolute weight, as
                DenseNet's Figure 5) or ``'l2'``.

        Returns:
            list[Tensor]: Per block, a float64 vector of length n - 1: entry
            j - 1 summarizes ``W_j``, lag j (``'shared_lag'``) or source layer
            ``x_j`` (``'shared_ordinal'``).

        Raises:
            ValueError: For the dense variant, which shares nothing.
        """
        if self.aggregation == 'dense':
            raise ValueError(
                "aggregation='dense' has no shared 1x1 convs; use "
                'source_weight_norms() for its per-layer weights.')
        return [
            torch.stack([
                weight_norm(stage.shared_conv.slot(j), norm)
                for j in range(1, stage.shared_conv.num_slots + 1)
            ]).double() for stage in self.stages
        ]

    def source_weight_norms(self,
                            norm: str = 'mean_abs') -> List[torch.Tensor]:
        """Per dense block, the (n, n) table of
        :meth:`AggregationDenseBlock.source_weight_norms` (DenseNet's
        Figure 5), for any ``aggregation``."""
        return [stage.source_weight_norms(norm) for stage in self.stages]

    def _stem_modules(self) -> List[nn.Module]:
        return [self.stem]

    def _stage_modules(self, i: int) -> List[nn.Module]:
        return [self.stages[i], self.transitions[i]]
