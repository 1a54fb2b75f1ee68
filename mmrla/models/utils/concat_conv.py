"""Layers over the channel concatenation ``cat(x, h)``.

RLA feeds its hidden state to the main network by concatenating it to a
feature map before a convolution. The plain form builds the concatenation.
The split form computes the same thing from the parts: a dense convolution
over a concatenation is the sum of convolutions over its parts, and a
depthwise convolution, a batch norm and an elementwise activation act on each
channel alone. It never writes the (C + k)-channel copy of the largest
feature map of a block, and skips a part that is all zeros (the initial
state, given as ``None``). The split form is taken only where it is exact;
``fast=False`` selects the plain form, which the tests compare against.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from .batch_norm import batch_norm_arguments


def _splittable_conv(conv: nn.Module) -> bool:
    """Whether the split form reproduces ``conv``: a plain ``Conv2d`` with
    zero padding and no bias (weight-standardized or spectral-normed convs
    derive their weight from all input channels at once)."""
    return type(conv) is nn.Conv2d and conv.bias is None and \
        conv.padding_mode == 'zeros'


def _plain_conv_module(module: nn.Module) -> bool:
    """Whether a ConvModule runs conv, norm and activation in that order
    with nothing that reads the conv's weight on its own (explicit padding
    layers, spectral norm)."""
    return module.order == ('conv', 'norm', 'act') and \
        not module.with_explicit_padding and not module.with_spectral_norm


def _largest_part(parts: Sequence[Optional[torch.Tensor]]) -> torch.Tensor:
    """The part of the largest spatial size (parts are full maps, 1x1
    constant maps or None)."""
    full = None
    for part in parts:
        if part is not None and (full is None
                                 or part.shape[-1] > full.shape[-1]):
            full = part
    return full


def _dense_parts(parts: Sequence[Optional[torch.Tensor]],
                 channels: Sequence[int]) -> List[torch.Tensor]:
    """The parts as full maps for ``torch.cat``: a None part becomes zeros
    and a 1x1 constant map is expanded, both to the largest part's size."""
    full = _largest_part(parts)
    n, size = full.shape[0], full.shape[2:]
    return [
        full.new_zeros((n, c, *size)) if p is None else p.expand(n, c, *size)
        for p, c in zip(parts, channels)
    ]


def conv_over_concat(
        layer: nn.Module,
        parts: Sequence[Optional[torch.Tensor]],
        channels: Sequence[int],
        fast: bool = True,
        weights: Optional[Sequence[torch.Tensor]] = None) -> torch.Tensor:
    """``layer(torch.cat(parts, dim=1))`` for a dense (``groups=1``) conv or
    an mmcv ``ConvModule`` around one.

    Args:
        layer (nn.Module): The convolution (or ConvModule) over all the
            channels.
        parts (Sequence[Tensor | None]): Consecutive channel slices of its
            input; None stands for zeros. A part may have 1x1 spatial size
            to stand for a constant map when the conv is 1x1 (it
            broadcasts).
        channels (Sequence[int]): Channels of each part.
        fast (bool): Allow the split form. Defaults to True.
        weights (Sequence[Tensor], optional): The conv weight already split
            by ``channels`` (a deployed model keeps them).

    Returns:
        Tensor: The layer's output.

    Example:
        >>> import torch
        >>> conv = torch.nn.Conv2d(6, 4, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 4, 5, 5), torch.rand(2, 2, 5, 5)
        >>> out = conv_over_concat(conv, [x, h], [4, 2])
        >>> bool(torch.allclose(out, conv(torch.cat([x, h], 1)), atol=1e-6))
        True
    """
    module = layer if isinstance(layer, ConvModule) else None
    conv = layer.conv if module is not None else layer
    if not (fast and _splittable_conv(conv) and conv.groups == 1 and
            (module is None or _plain_conv_module(module))):
        return layer(torch.cat(_dense_parts(parts, channels), dim=1))
    if weights is None:
        weights = conv.weight.split(list(channels), dim=1)
    out = None
    for part, weight in zip(parts, weights):
        if part is None:
            continue  # zeros contribute nothing to a bias-free conv
        y = F.conv2d(part, weight, None, conv.stride, conv.padding,
                     conv.dilation)
        if out is None:
            out = y
        elif y.shape == out.shape:
            # In place into a fresh conv output, which autograd does not keep.
            out = out.add_(y)
        else:
            out = out + y  # a constant map broadcasts
    if module is not None:
        if module.with_norm:
            out = module.norm(out)
        if module.with_activation:
            out = module.activate(out)
    return out


def _batch_norm_parts(norm: nn.BatchNorm2d,
                      parts: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Apply one ``BatchNorm2d`` to the channel parts of its input.

    Equals ``norm(torch.cat(parts, 1)).split(...)``, running statistics and
    ``num_batches_tracked`` included (counted once per call), without the
    concatenation. Mirrors ``torch.nn.modules.batchnorm._BatchNorm.forward``.
    """
    args = batch_norm_arguments(norm)

    def piece(t, start, end):
        return None if t is None else t[start:end]

    outs, start = [], 0
    for part in parts:
        end = start + part.shape[1]
        outs.append(
            F.batch_norm(part, piece(args.running_mean, start, end),
                         piece(args.running_var, start, end),
                         piece(norm.weight, start, end),
                         piece(norm.bias, start, end), args.batch_stats,
                         args.momentum, norm.eps))
        start = end
    return outs


def _splittable_conv_module(module: nn.Module) -> bool:
    """Whether a ConvModule (conv, norm, act) acts on each channel alone so
    that it can run per part: a splittable depthwise conv, no norm or a
    plain ``BatchNorm2d`` (SyncBN reduces across processes in its own call)
    and a parameter-free activation. Checked on every call, since mmengine's
    ``sync_bn`` swaps norms after building."""
    conv = module.conv
    return _splittable_conv(conv) and \
        conv.groups == conv.in_channels == conv.out_channels and \
        module.order == ('conv', 'norm', 'act') and \
        not module.with_explicit_padding and \
        not module.with_spectral_norm and \
        (not module.with_norm or type(module.norm) is nn.BatchNorm2d) and \
        not (module.with_activation and any(
            True for _ in module.activate.parameters()))


def depthwise_over_concat(
    module: nn.Module,
    parts: Sequence[Optional[torch.Tensor]],
    channels: Sequence[int],
    fast: bool = True,
    weights: Optional[Sequence[torch.Tensor]] = None
) -> List[Optional[torch.Tensor]]:
    """A depthwise ConvModule over ``cat(parts)``, returned split by part.

    In the split form a None part (zeros) becomes one constant per channel,
    computed on a 1x1 stand-in of two samples (so that training-mode batch
    statistics stay defined and equal) and returned with 1x1 spatial size;
    :func:`conv_over_concat` broadcasts it. A bare bias-free depthwise conv
    (no norm, no activation, as in Xception's separable convs) maps zeros to
    zeros, so there a None part stays None.

    Args:
        module (ConvModule): Depthwise conv, optional norm and activation
            over all the channels.
        parts (Sequence[Tensor | None]): Consecutive channel slices of its
            input; None stands for zeros.
        channels (Sequence[int]): Channels of each part.
        fast (bool): Allow the split form. Defaults to True.
        weights (Sequence[Tensor], optional): The conv weight split by
            ``channels``.

    Returns:
        list[Tensor | None]: The output, split like the input (None for a
        None part of a bare conv's split form).

    Example:
        >>> import torch
        >>> from mmcv.cnn import ConvModule
        >>> dw = ConvModule(6, 6, 3, padding=1, groups=6,
        ...                 norm_cfg=dict(type='BN')).eval()
        >>> e, h = torch.rand(2, 4, 5, 5), torch.rand(2, 2, 5, 5)
        >>> a, b = depthwise_over_concat(dw, [e, h], [4, 2])
        >>> ref = dw(torch.cat([e, h], 1))
        >>> bool(torch.allclose(torch.cat([a, b], 1), ref, atol=1e-6))
        True
    """
    if not (fast and _splittable_conv_module(module)):
        dense = torch.cat(_dense_parts(parts, channels), dim=1)
        return list(module(dense).split(list(channels), 1))
    conv = module.conv
    if weights is None:
        weights = conv.weight.split(list(channels))
    if not (module.with_norm or module.with_activation):
        return [
            None if p is None else F.conv2d(p, w, None, conv.stride,
                                            conv.padding, conv.dilation, c)
            for p, w, c in zip(parts, weights, channels)
        ]
    ref = _largest_part(parts)
    outs = [
        F.conv2d(
            ref.new_zeros((2, c, 1, 1)) if p is None else p, w, None,
            conv.stride, conv.padding, conv.dilation, c)
        for p, w, c in zip(parts, weights, channels)
    ]
    if module.with_norm:
        outs = _batch_norm_parts(module.norm, outs)
    if module.with_activation:
        outs = [module.activate(t) for t in outs]
    return [t[:1] if p is None else t for t, p in zip(outs, parts)]


def keep_split_weights(owner: nn.Module, name: str, weight: torch.Tensor,
                       channels: Sequence[int], dim: int) -> None:
    """Store ``weight`` split by ``channels`` in ``owner`` for inference.

    They become non-persistent buffers: they follow ``.to()`` and never
    reach a state dict. Read them back with :func:`kept_split_weights`.
    """
    for i, part in enumerate(weight.detach().split(list(channels), dim)):
        owner.register_buffer(f'{name}_{i}', part.contiguous(), False)
    owner.__dict__.setdefault('_kept_splits', {})[name] = len(channels)


def kept_split_weights(owner: nn.Module,
                       name: str) -> Optional[List[torch.Tensor]]:
    """The weights kept by :func:`keep_split_weights`, or None."""
    count = owner.__dict__.get('_kept_splits', {}).get(name)
    if count is None:
        return None
    return [getattr(owner, f'{name}_{i}') for i in range(count)]
