"""Recurrent Layer Attention network (LSTM layer attention).

Recurrent Layer Attention Network (ICLR 2020 submission), unrelated to
RLA-Net's recurrent aggregation: one ``torch.nn.LSTMCell`` runs alongside a
ResNet. After each residual block

- Eq. 2: the block's features are summarized into a context ``S_l`` of size
  N (global average or max pooling, optionally an MLP, then resized to N);
- Eq. 3: the shared cell updates ``(h, c)`` from ``S_l`` (zero initial
  state);
- Eq. 4: the block's own head infers ``alpha_l = sigmoid(W2 relu(W1 h_l))``
  (a scalar, or a channel vector for RLA-vector);
- Eq. 5/6: ``alpha_l`` scales the block's residual branch (after the SE
  layer for IA+RLA) before the identity is added.

The parameter counts of the paper decide what the text leaves open: one
head per block, parameter-free context resizing, and M, r and N per depth;
the attention scales the residual branch before the sum.
docs/layer_attention.md gives the arithmetic and the paper's contradictions
(``tests/test_models/test_backbones/test_layer_attention_resnet.py``
checks the counts).
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.resnet import (BasicBlock, Bottleneck,
                                                ResLayer, ResNet)
from mmpretrain.models.utils import SELayer

from mmrla.registry import MODELS
from ..utils import check_choice
from .base import checkpointed

CONTEXTS = ('gap', 'gmp', 'gap_mlp', 'gmp_mlp')
CONTEXT_RESIZES = ('pool', 'linear', 'fc')
ATTENTION_POSITIONS = ('residual', 'output')
CIFAR_DEPTHS = (20, 32, 44, 56, 110)
# (hidden size M, reduction ratio r) that reproduce the paper's parameter
# counts, per depth, for the scalar and the vector (RLA-vector) head; see
# docs/layer_attention.md for the computations.
PAPER_HYPER_PARAMS = {
    'scalar': {
        **{
            d: (4, 1)
            for d in CIFAR_DEPTHS
        }, 18: (128, 8),
        50: (512, 16),
        101: (512, 16)
    },
    'vector': {
        **{
            d: (32, 16)
            for d in CIFAR_DEPTHS
        }, 18: (128, 8),
        50: (512, 16),
        101: (512, 16)
    },
}

# The step function a block calls with its context (B, N); it runs the
# shared LSTM cell and returns the new hidden state h (B, M).
Step = Callable[[torch.Tensor], torch.Tensor]


def auto_context_size(channels: Sequence[int]) -> int:
    """The context size N that needs the fewest resampling steps.

    Appendix B picks N as "a minimum number of downsampling or upsampling";
    counting factor-of-2 steps ``|log2(C_l / N)|`` over all blocks, ties go
    to the larger N (ResNet-18's 64/128/256/512 channels tie between 128 and
    256; only 256 reproduces its parameter count).

    Args:
        channels (Sequence[int]): Channels of every block, in order.

    Returns:
        int: One of ``channels``.

    Example:
        >>> auto_context_size([16] * 9 + [32] * 9 + [64] * 9)
        32
        >>> auto_context_size([256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3)
        1024
    """

    def cost(n):
        return sum(abs(math.log2(c / n)) for c in channels)

    return min(sorted(set(channels), reverse=True), key=cost)


def resize_context(context: torch.Tensor,
                   size: int,
                   mode: str = 'pool') -> torch.Tensor:
    """Bring a (B, C) context to (B, size) without parameters.

    Args:
        context (Tensor): Shape (B, C).
        size (int): Target length N.
        mode (str): ``'pool'``: average over groups of channels to shrink
            (C -> N), repeat channels (nearest) to grow; ``'linear'``: linear
            interpolation along the channel axis both ways.

    Returns:
        Tensor: Shape (B, size); the input itself if C == size.

    Example:
        >>> import torch
        >>> resize_context(torch.tensor([[1., 3., 5., 7.]]), 2)
        tensor([[2., 6.]])
        >>> resize_context(torch.tensor([[1., 3.]]), 4)
        tensor([[1., 1., 3., 3.]])
    """
    if context.shape[1] == size:
        return context
    x = context.unsqueeze(1)
    if mode == 'linear':
        x = F.interpolate(x, size=size, mode='linear', align_corners=False)
    elif context.shape[1] > size:
        x = F.adaptive_avg_pool1d(x, size)
    else:
        x = F.interpolate(x, size=size, mode='nearest')
    return x.squeeze(1)


class LayerAttentionHead(BaseModule):
    """One block's part of the layer attention: Eq. 2 and Eq. 4.

    ``forward(feat, step)`` summarizes ``feat`` into the context (Eq. 2),
    hands it to ``step`` (the shared LSTM cell, Eq. 3) and maps the new
    hidden state to the attention (Eq. 4).

    Args:
        channels (int): Channels C of the summarized features.
        hidden_size (int): Hidden units M of the shared LSTM cell.
        ratio (int): Reduction ratio r: W1 maps M to M / r units.
        context_size (int): Context size N, the LSTM's input size.
        context (str): ``'gap'``, ``'gmp'`` (global average / max pooling)
            or ``'gap_mlp'``, ``'gmp_mlp'`` (followed by two fully connected
            layers C -> C / mlp_ratio -> C with a ReLU between, section 3.2).
        context_resize (str): How C becomes N: ``'pool'`` or ``'linear'``
            (parameter-free, see :func:`resize_context`) or ``'fc'`` (a
            learned bias-free linear map, only where C != N).
        mlp_ratio (int): Reduction ratio of the context MLP. Defaults to 16,
            SE's ratio, which reproduces Table 1's GAP+MLP count.
        vector (bool): RLA-vector: predict a C-sized vector instead of a
            scalar.
        init_cfg (dict, optional): Initialization config.

    Example:
        >>> import torch
        >>> head = LayerAttentionHead(64, hidden_size=4, ratio=1,
        ...                           context_size=32)
        >>> cell = torch.nn.LSTMCell(32, 4)
        >>> head(torch.rand(2, 64, 8, 8), lambda s: cell(s)[0]).shape
        torch.Size([2, 1, 1, 1])
    """

    def __init__(self,
                 channels: int,
                 hidden_size: int,
                 ratio: int,
                 context_size: int,
                 context: str = 'gap',
                 context_resize: str = 'pool',
                 mlp_ratio: int = 16,
                 vector: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_choice(context, CONTEXTS, 'context')
        check_choice(context_resize, CONTEXT_RESIZES, 'context_resize')
        if hidden_size % ratio or ratio < 1:
            raise ValueError(
                f'The reduction ratio r={ratio} must divide the LSTM hidden '
                f'size M={hidden_size} (W1 has M / r outputs); choose a '
                'larger hidden_size or a smaller ratio.')
        self.channels = channels
        self.context_size = context_size
        self.context_type = context
        self.context_resize = context_resize
        self.vector = vector
        self.mlp = None
        if context.endswith('_mlp'):
            squeeze = max(channels // mlp_ratio, 1)
            self.mlp = nn.Sequential(
                nn.Linear(channels, squeeze), nn.ReLU(inplace=True),
                nn.Linear(squeeze, channels))
        self.resize = None
        if context_resize == 'fc' and channels != context_size:
            self.resize = nn.Linear(channels, context_size, bias=False)
        squeezed = hidden_size // ratio
        # Eq. 4: W1 (M -> M / r), ReLU, W2 (M / r -> 1 or C), sigmoid.
        self.fc = nn.Sequential(
            nn.Linear(hidden_size, squeezed), nn.ReLU(inplace=True),
            nn.Linear(squeezed, channels if vector else 1), nn.Sigmoid())

    def context(self, feat: torch.Tensor) -> torch.Tensor:
        """Eq. 2: (B, C, H, W) features -> (B, N) context."""
        if self.context_type.startswith('gap'):
            s = feat.mean(dim=(2, 3))
        else:
            s = feat.amax(dim=(2, 3))
        if self.mlp is not None:
            s = self.mlp(s)
        if self.resize is not None:
            return self.resize(s)
        return resize_context(
            s, self.context_size,
            'linear' if self.context_resize == 'linear' else 'pool')

    def forward(self, feat: torch.Tensor, step: Step) -> torch.Tensor:
        """Eqs. 2-4: the attention, shape (B, 1 or C, 1, 1), in [0, 1]."""
        h = step(self.context(feat))
        return self.fc(h).view(h.shape[0], -1, 1, 1)


class _LayerAttentionBlockMixin:
    """Residual block with optional SE (IA) and layer attention.

    The block's forward takes the backbone's ``step`` function along with
    ``x``. ``scale_input`` (an identity) marks the features right before
    the layer-attention scaling, the Grad-CAM target of section 5.

    Args:
        *args: Arguments of the mmpretrain block that follows in the MRO.
        se_ratio (int, optional): SE squeeze ratio (IA of IA+RLA, or the
            SE-ResNet baseline); None for no SE.
        layer_attention (dict, optional): Arguments of
            :class:`LayerAttentionHead` except ``channels``; None for none.
        attention_position (str): ``'residual'`` or ``'output'``.
        **kwargs: Keyword arguments of that mmpretrain block.
    """

    def __init__(self,
                 *args,
                 se_ratio: Optional[int] = None,
                 layer_attention: Optional[dict] = None,
                 attention_position: str = 'residual',
                 **kwargs) -> None:
        # The block class (mmpretrain's BasicBlock or Bottleneck) comes next
        # in the MRO and builds the convs and norms.
        super().__init__(*args, **kwargs)
        check_choice(attention_position, ATTENTION_POSITIONS,
                     'attention_position')
        # divisor=1 keeps C / 16 squeeze units (mmpretrain's default divisor
        # of 8 would give 8 for every CIFAR stage, 2.4x SE's parameters).
        self.se = SELayer(
            self.out_channels, ratio=se_ratio, divisor=1) if se_ratio else None
        self.layer_attention = LayerAttentionHead(
            self.out_channels, **
            layer_attention) if layer_attention is not None else None
        self.attention_position = attention_position
        self.scale_input = nn.Identity()

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self,
                x: torch.Tensor,
                step: Optional[Step] = None) -> torch.Tensor:
        """Run the block.

        Args:
            x (Tensor): Input features (B, C_in, H, W).
            step (callable, optional): The shared LSTM step; required when
                the block has layer attention.
        """
        if self.layer_attention is not None and step is None:
            raise ValueError('A block with layer attention needs the '
                             "backbone's LSTM step: call block(x, step).")

        def _inner_forward(x):
            identity = x if self.downsample is None else self.downsample(x)
            return self._residual(x), identity

        out, identity = checkpointed(_inner_forward, self.with_cp, x)

        alpha = None
        residual_position = self.attention_position == 'residual'
        if self.layer_attention is not None and residual_position:
            # Eq. 6: the context is of A_l itself, before the SE scaling.
            alpha = self.layer_attention(out, step)
        if self.se is not None:
            out = self.se(out)
        if alpha is not None:
            out = self.scale_input(out) * alpha
        out = self.relu(self.drop_path(out) + identity)
        if self.layer_attention is not None and not residual_position:
            out = self.scale_input(out) * self.layer_attention(out, step)
        return out


class LABasicBlock(_LayerAttentionBlockMixin, BasicBlock):
    """mmpretrain's ``BasicBlock`` with SE and layer attention options.

    Args: see :class:`_LayerAttentionBlockMixin` and mmpretrain's
    ``BasicBlock``.

    Example:
        >>> import torch
        >>> block = LABasicBlock(16, 16, layer_attention=dict(
        ...     hidden_size=4, ratio=1, context_size=32))
        >>> cell = torch.nn.LSTMCell(32, 4)
        >>> block(torch.rand(2, 16, 8, 8), lambda s: cell(s)[0]).shape
        torch.Size([2, 16, 8, 8])
    """

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        return self.norm2(self.conv2(out))


class LABottleneck(_LayerAttentionBlockMixin, Bottleneck):
    """mmpretrain's ``Bottleneck`` with SE and layer attention options.

    Args: see :class:`_LayerAttentionBlockMixin` and mmpretrain's
    ``Bottleneck``.

    Example:
        >>> import torch
        >>> block = LABottleneck(64, 64, layer_attention=dict(
        ...     hidden_size=8, ratio=2, context_size=32, vector=True))
        >>> cell = torch.nn.LSTMCell(32, 8)
        >>> block(torch.rand(2, 64, 8, 8), lambda s: cell(s)[0]).shape
        torch.Size([2, 64, 8, 8])
    """

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        return self.norm3(self.conv3(out))


@MODELS.register_module()
class LayerAttentionResNet(ResNet):
    """ResNet with Recurrent Layer Attention (ICLR 2020 submission).

    An ``nn.LSTMCell`` shared by all residual blocks reads each block's
    context and each block's head turns its hidden state into the layer
    attention that scales the block's residual branch (see the module
    docstring for the equations and for how the paper's parameter counts
    decide N, M, r and the head layout). Registered in mmengine's root
    ``MODELS``, so mmpretrain and mmdet configs both build it.

    Two forms, chosen by ``depth``:

    - ImageNet (18: basic blocks; 50, 101: bottlenecks): mmpretrain's
      ResNet, 7x7 stem and max pooling, 4 stages of 64-512 (x4) channels;
    - CIFAR (20, 32, 44, 56, 110, He et al. 2016): 3x3 stem of 16 channels,
      no pooling, 3 stages of (depth - 2) / 6 basic blocks with 16, 32, 64
      channels; shortcuts that change shape are 1x1 conv + BN (option B,
      which matches Table 2's counts better than zero padding).

    With ``layer_attention=False`` it is the plain ResNet (``se_ratio=None``)
    or SE-ResNet (``se_ratio=16``) baseline of the same form.

    Args:
        depth (int): 18, 50, 101 (ImageNet form) or 20, 32, 44, 56, 110
            (CIFAR form).
        layer_attention (bool): Use the recurrent layer attention.
            Defaults to True.
        hidden_size (int, optional): LSTM hidden units M. None: the value
            that reproduces the paper's counts for this depth (4 on CIFAR,
            32 for RLA-vector, 128 for ResNet-18, 512 for ResNet-50/101).
        ratio (int, optional): Reduction ratio r of Eq. 4. None: the
            paper's (1 on CIFAR, 16 for RLA-vector, 8 for ResNet-18, 16 for
            ResNet-50/101).
        context (str): ``'gap'``, ``'gmp'``, ``'gap_mlp'`` or ``'gmp_mlp'``.
        context_size (int, optional): Context size N. None: see
            :func:`auto_context_size` (32 on CIFAR, 256 for ResNet-18, 1024
            for ResNet-50/101).
        context_resize (str): ``'pool'``, ``'linear'`` or ``'fc'``; see
            :class:`LayerAttentionHead`.
        context_mlp_ratio (int): Reduction ratio of the ``*_mlp`` contexts.
        vector (bool): RLA-vector: channel-sized attention vectors.
        se_ratio (int, optional): SE ratio inside every block: IA+RLA with
            layer attention, SE-ResNet without. None for no SE.
        attention_position (str): ``'residual'`` (default: scale the residual
            branch before the sum) or ``'output'`` (scale the block output).
        stem_channels, base_channels, num_stages, strides, dilations,
            out_indices (optional): As in mmpretrain's ``ResNet``; None
            takes the form's values (ImageNet: 64, 64, 4, (1, 2, 2, 2),
            (1, 1, 1, 1), (3, ); CIFAR: 16, 16, 3, (1, 2, 2), (1, 1, 1),
            (2, )).
        zero_init_residual (bool): Zero-init each branch's last norm.
            Defaults to False: the paper uses He et al.'s init, and a zero
            branch would give every block an all-zero context at the start.
        **kwargs: Other arguments of mmpretrain's ``ResNet`` (frozen_stages,
            norm_eval, with_cp, conv_cfg, norm_cfg, style, init_cfg, ...).
            ``frozen_stages`` also freezes the stages' heads, and the shared
            LSTM cell once every stage is frozen.

    Example:
        >>> import torch
        >>> model = LayerAttentionResNet(depth=20)
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 64, 8, 8)]
        >>> model = LayerAttentionResNet(depth=18, out_indices=(0, 1, 2, 3))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
    """

    arch_settings = {
        18: (LABasicBlock, (2, 2, 2, 2)),
        50: (LABottleneck, (3, 4, 6, 3)),
        101: (LABottleneck, (3, 4, 23, 3)),
        **{
            d: (LABasicBlock, ((d - 2) // 6, ) * 3)
            for d in CIFAR_DEPTHS
        },
    }

    def __init__(self,
                 depth: int,
                 layer_attention: bool = True,
                 hidden_size: Optional[int] = None,
                 ratio: Optional[int] = None,
                 context: str = 'gap',
                 context_size: Optional[int] = None,
                 context_resize: str = 'pool',
                 context_mlp_ratio: int = 16,
                 vector: bool = False,
                 se_ratio: Optional[int] = None,
                 attention_position: str = 'residual',
                 stem_channels: Optional[int] = None,
                 base_channels: Optional[int] = None,
                 num_stages: Optional[int] = None,
                 strides: Optional[Sequence[int]] = None,
                 dilations: Optional[Sequence[int]] = None,
                 out_indices: Optional[Sequence[int]] = None,
                 zero_init_residual: bool = False,
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for LayerAttentionResNet: '
                           f'use one of {sorted(self.arch_settings)}.')
        self.cifar = depth in CIFAR_DEPTHS
        if self.cifar:
            form = dict(
                stem_channels=16,
                base_channels=16,
                num_stages=3,
                strides=(1, 2, 2),
                dilations=(1, 1, 1),
                out_indices=(2, ))
        else:
            form = dict(
                stem_channels=64,
                base_channels=64,
                num_stages=4,
                strides=(1, 2, 2, 2),
                dilations=(1, 1, 1, 1),
                out_indices=(3, ))
        given = dict(
            stem_channels=stem_channels,
            base_channels=base_channels,
            num_stages=num_stages,
            strides=strides,
            dilations=dilations,
            out_indices=out_indices)
        form.update({k: v for k, v in given.items() if v is not None})
        num_stages = form['num_stages']
        if num_stages != len(form['strides']):
            # ResNet asserts this; keep the form's per-stage tuples usable
            # when only num_stages is given.
            form['strides'] = form['strides'][:num_stages]
            form['dilations'] = form['dilations'][:num_stages]
        form['out_indices'] = tuple(i % num_stages
                                    for i in form['out_indices'])

        paper_m, paper_r = PAPER_HYPER_PARAMS[
            'vector' if vector else 'scalar'][depth]
        self.hidden_size = hidden_size or paper_m
        self.ratio = ratio or paper_r
        self.use_layer_attention = layer_attention
        # Block channels, to size the contexts before the blocks exist.
        block, stage_blocks = self.arch_settings[depth]
        expansion = 4 if issubclass(block, Bottleneck) else 1
        channels = [
            form['base_channels'] * expansion * 2**i
            for i, n in enumerate(stage_blocks[:num_stages]) for _ in range(n)
        ]
        self.context_size = context_size or auto_context_size(channels)
        self._block_options = dict(
            se_ratio=se_ratio,
            attention_position=attention_position,
            layer_attention=dict(
                hidden_size=self.hidden_size,
                ratio=self.ratio,
                context_size=self.context_size,
                context=context,
                context_resize=context_resize,
                mlp_ratio=context_mlp_ratio,
                vector=vector) if layer_attention else None)
        super().__init__(
            depth, zero_init_residual=zero_init_residual, **form, **kwargs)
        self.lstm = nn.LSTMCell(self.context_size,
                                self.hidden_size) if layer_attention else None
        self._freeze_stages()

    def make_res_layer(self, **kwargs) -> ResLayer:
        return ResLayer(**kwargs, **self._block_options)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        if not self.cifar:
            return super()._make_stem_layer(in_channels, stem_channels)
        # He et al.'s CIFAR stem: one 3x3 conv, no pooling.
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels,
            stem_channels,
            kernel_size=3,
            stride=1,
            padding=1,
            bias=False)
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        lstm = getattr(self, 'lstm', None)
        if lstm is not None and self.frozen_stages >= self.num_stages:
            for param in lstm.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'LayerAttentionResNet':
        # mmpretrain's ResNet.train returns None, which breaks
        # ``model.eval()`` chains.
        super().train(mode)
        return self

    @property
    def blocks(self) -> List[nn.Module]:
        """Every residual block, in order (the attention's time steps)."""
        return [b for name in self.res_layers for b in getattr(self, name)]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)

        # Eq. 3: zero initial state; LSTMCell creates it on the input's
        # device and dtype.
        state: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

        def step(context: torch.Tensor) -> torch.Tensor:
            nonlocal state
            state = self.lstm(context, state)
            return state[0]

        outs = []
        for i, layer_name in enumerate(self.res_layers):
            for block in getattr(self, layer_name):
                x = block(x, step if self.lstm is not None else None)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
