"""What ``BatchNorm2d.forward`` passes to the batch-norm function, for the
fast paths that call that function themselves."""
from typing import NamedTuple, Optional

import torch
import torch.nn as nn


class BatchNormArguments(NamedTuple):
    """The arguments of ``F.batch_norm`` for one call of a norm."""
    running_mean: Optional[torch.Tensor]
    running_var: Optional[torch.Tensor]
    batch_stats: bool
    momentum: float


def batch_norm_arguments(norm: nn.BatchNorm2d) -> BatchNormArguments:
    """Count a call of ``norm`` and return what its forward would pass to
    ``F.batch_norm``: the running statistics to use or update, whether the
    batch's statistics normalize, and the update factor (``momentum``, or
    the cumulative average's ``1 / num_batches_tracked`` when it is None).

    Mirrors ``torch.nn.modules.batchnorm._BatchNorm.forward`` (torch 2.5),
    ``num_batches_tracked`` included.

    Example:
        >>> import torch
        >>> norm = torch.nn.BatchNorm2d(4, momentum=None)
        >>> args = batch_norm_arguments(norm)
        >>> args.batch_stats, args.momentum, int(norm.num_batches_tracked)
        (True, 1.0, 1)
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
    return BatchNormArguments(norm.running_mean if use_running else None,
                              norm.running_var if use_running else None,
                              batch_stats, factor)
