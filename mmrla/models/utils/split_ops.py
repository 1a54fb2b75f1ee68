"""Helpers to run layers over the parts of a channel concatenation.

RLA concatenates its hidden state to a feature map before a convolution.
Convolutions (and per-channel norms) over a concatenation equal the
concatenation (or, for a dense conv, the sum) of the same layers over the
parts, so the concatenated tensor never needs to exist. These helpers keep
that exact, including the running statistics of batch norm.
"""
from typing import Callable, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def derived_weights(owner: nn.Module, name: str, fn: Callable, *weights:
                    torch.Tensor):
    """``fn(*weights)`` (slices, concatenations of parameters), cached.

    Autograd needs the derivation in its graph while training, so it is
    recomputed then; for inference it is kept in ``owner`` until a source
    weight changes (a new tensor, or an in-place update bumping
    ``_version``), which saves copying weights on every call. The cache is a
    plain attribute, so it never reaches a state dict.

    Args:
        owner (nn.Module): Module that holds the cache.
        name (str): Cache entry, unique within ``owner``.
        fn (Callable): Derives the result from ``weights``.
        *weights (Tensor): The source parameters.

    Example:
        >>> import torch
        >>> conv = torch.nn.Conv2d(8, 4, 1)
        >>> w_a, w_b = derived_weights(
        ...     conv, 'split', lambda w: w.split([6, 2], dim=1), conv.weight)
        >>> w_a.shape, w_b.shape
        (torch.Size([4, 6, 1, 1]), torch.Size([4, 2, 1, 1]))
    """
    in_graph = torch.is_grad_enabled() and any(w.requires_grad
                                               for w in weights)
    # A compiled graph derives (and can fold) the weights itself.
    if in_graph or torch.compiler.is_compiling():
        return fn(*weights)
    key = tuple((w.data_ptr(), w._version, w.dtype) for w in weights)
    cache = owner.__dict__.setdefault('_weight_cache', {})
    if name not in cache or cache[name][0] != key:
        cache[name] = (key, fn(*weights))
    return cache[name][1]


def splittable_batch_norm(norm: nn.Module) -> bool:
    """Whether :func:`batch_norm_parts` reproduces ``norm`` exactly.

    Plain ``BatchNorm2d`` normalizes each channel on its own. Synchronized
    or custom norms may not (SyncBN reduces across processes in its own
    call), so they keep running over the concatenation.
    """
    return type(norm) is nn.BatchNorm2d


def batch_norm_parts(norm: nn.BatchNorm2d,
                     parts: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """Apply one ``BatchNorm2d`` to the channel parts of its input.

    Equals ``norm(torch.cat(parts, 1)).split(...)``, running statistics and
    ``num_batches_tracked`` included (counted once per call), without the
    concatenation. Mirrors ``torch.nn.modules.batchnorm._BatchNorm.forward``.

    Args:
        norm (nn.BatchNorm2d): The norm over all the channels.
        parts (Sequence[Tensor]): Consecutive channel slices of its input.

    Returns:
        list[Tensor]: The normalized parts.

    Example:
        >>> import torch
        >>> bn = torch.nn.BatchNorm2d(5)
        >>> a, b = torch.rand(2, 3, 4, 4), torch.rand(2, 2, 4, 4)
        >>> [p.shape[1] for p in batch_norm_parts(bn, [a, b])]
        [3, 2]
    """
    factor = 0.0 if norm.momentum is None else norm.momentum
    if norm.training and norm.track_running_stats and \
            norm.num_batches_tracked is not None:
        norm.num_batches_tracked.add_(1)
        if norm.momentum is None:  # cumulative moving average
            factor = 1.0 / float(norm.num_batches_tracked)
    batch_stats = norm.training or (norm.running_mean is None
                                    and norm.running_var is None)
    use_running = not norm.training or norm.track_running_stats

    def piece(t, start, end):
        return None if t is None else t[start:end]

    outs, start = [], 0
    for part in parts:
        end = start + part.shape[1]
        outs.append(
            F.batch_norm(
                part,
                piece(norm.running_mean, start, end) if use_running else None,
                piece(norm.running_var, start, end) if use_running else None,
                piece(norm.weight, start, end), piece(norm.bias, start, end),
                batch_stats, factor, norm.eps))
        start = end
    return outs
