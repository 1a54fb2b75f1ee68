"""Folding eval-mode batch norms into the convs before them: the
inference-only transform of ``switch_to_deploy()`` (as mmcv's
``fuse_conv_bn``, with the pairs named instead of guessed from the order in
which the modules were registered)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def norm_as_affine(
        norm: nn.Module) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """``(scale, shift)`` per channel with ``norm(y) = scale * y + shift``
    for a batch norm in eval mode with running statistics, else None:
    ``scale = weight / sqrt(running_var + eps)`` and
    ``shift = bias - running_mean * scale``.

    Example:
        >>> import torch
        >>> norm = torch.nn.BatchNorm2d(4).eval()
        >>> scale, shift = norm_as_affine(norm)
        >>> y = torch.rand(1, 4, 2, 2)
        >>> bool(torch.allclose(norm(y), scale.view(-1, 1, 1) * y +
        ...                     shift.view(-1, 1, 1)))
        True
    """
    if not isinstance(norm, _BatchNorm) or norm.training or \
            norm.running_var is None:
        return None
    with torch.no_grad():
        scale = (norm.running_var + norm.eps).rsqrt()
        shift = -norm.running_mean * scale
        if norm.affine:
            scale = scale * norm.weight
            shift = shift * norm.weight + norm.bias
    return scale, shift


def fold_norm_into_conv(conv: nn.Module,
                        norm: nn.Module) -> Optional[nn.Conv2d]:
    """A biased conv that computes ``norm(conv(x))`` of a batch norm in
    eval mode, or None where that cannot be exact (a conv that is not a
    plain ``nn.Conv2d``, e.g. a weight-standardized or deformable one, or a
    norm other than a batch norm with running statistics).

    With ``norm(y) = scale * y + shift`` per channel
    (:func:`norm_as_affine`), scaling the conv's output channels and adding
    ``shift`` to its bias gives the same map.

    Example:
        >>> import torch
        >>> conv, norm = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)
        >>> norm = norm.eval()
        >>> x = torch.rand(1, 3, 5, 5)
        >>> fused = fold_norm_into_conv(conv, norm)
        >>> bool(torch.allclose(fused(x), norm(conv(x)), atol=1e-6))
        True
    """
    affine = norm_as_affine(norm)
    if type(conv) is not nn.Conv2d or affine is None:
        return None
    scale, shift = affine
    with torch.no_grad():
        if conv.bias is not None:
            shift = shift + conv.bias * scale
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            bias=True,
            padding_mode=conv.padding_mode).to(conv.weight)
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        fused.bias.copy_(shift)
    return fused


def fold_norms(owner: nn.Module, pairs: Sequence[Tuple[str, str]]) -> None:
    """In ``owner``, replace each ``(conv, norm)`` pair of attribute names,
    the norm applied right after the conv, by the folded conv and an
    ``nn.Identity``; pairs that cannot fold exactly stay as they are."""
    for conv_name, norm_name in pairs:
        fused = fold_norm_into_conv(
            getattr(owner, conv_name), getattr(owner, norm_name))
        if fused is not None:
            setattr(owner, conv_name, fused)
            setattr(owner, norm_name, nn.Identity())
