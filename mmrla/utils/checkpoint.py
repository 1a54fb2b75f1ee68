"""Checks that a checkpoint really sets every weight of a model.

mmengine loads checkpoints non-strictly and only logs what does not fit, so
a wrong file evaluates a partly random model. The tools refuse that first.
"""
import glob
import os.path as osp
from typing import List, Mapping, NamedTuple, Optional

import torch
import torch.nn as nn

from mmrla.converters import (UnconvertedCheckpointError, check_unconverted,
                              read_state_dict, strip_module_prefix)
from mmrla.engine.safe_load import CheckpointLoadError
from .errors import UserError


class CheckpointMismatch(NamedTuple):
    """How a state dict fails to fit a model (keys as the model names them).

    Attributes:
        missing (list[str]): Parameters and persistent buffers of the model
            that the state dict lacks (BN's ``num_batches_tracked`` aside,
            which mmengine ignores too).
        unexpected (list[str]): Keys the model has no place for.
        wrong_shape (list[str]): ``'key: checkpoint (..) vs model (..)'``.
    """
    missing: List[str]
    unexpected: List[str]
    wrong_shape: List[str]


def checkpoint_mismatch(
        model: nn.Module,
        state_dict: Mapping[str, torch.Tensor]) -> CheckpointMismatch:
    """Compare ``state_dict`` (prefixes removed) with ``model``'s own.

    Example:
        >>> import torch.nn as nn
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        >>> sd = {'0.weight': torch.zeros(3, 3), '2.weight': torch.zeros(1)}
        >>> checkpoint_mismatch(model, sd)  # doctest: +NORMALIZE_WHITESPACE
        CheckpointMismatch(missing=['0.bias', '1.weight', '1.bias',
            '1.running_mean', '1.running_var'], unexpected=['2.weight'],
            wrong_shape=['0.weight: checkpoint (3, 3) vs model (3, 2)'])
    """
    expected = model.state_dict()
    missing = [
        k for k in expected
        if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in state_dict if k not in expected]
    wrong_shape = [
        f'{k}: checkpoint {tuple(v.shape)} vs model '
        f'{tuple(expected[k].shape)}' for k, v in state_dict.items() if
        k in expected and torch.is_tensor(v) and v.shape != expected[k].shape
    ]
    return CheckpointMismatch(missing, unexpected, wrong_shape)


def check_checkpoint_exists(filename: str,
                            config_path: Optional[str] = None) -> None:
    """Refuse a missing checkpoint, saying where checkpoints come from.

    Args:
        filename (str): The checkpoint a tool was given.
        config_path (str, optional): The config it is for, to name the
            work_dir its training writes to.

    Raises:
        UserError: If ``filename`` is not a file.

    Example:
        >>> check_checkpoint_exists('epoch_12.pth', 'configs/r50rla.py')
        Traceback (most recent call last):
        ...
        mmrla.utils.errors.UserError: Checkpoint epoch_12.pth does not exist. \
Train one with tools/train.py configs/r50rla.py (it saves epoch_N.pth in \
work_dirs/r50rla/), or convert the authors' released weights with \
tools/model_converters/rlanet_to_mmrla.py.
    """
    if osp.isfile(filename):
        return
    if config_path:
        name = osp.splitext(osp.basename(config_path))[0]
        train = (f'tools/train.py {config_path} (it saves epoch_N.pth in '
                 f'work_dirs/{name}/)')
    else:
        train = 'tools/train.py (it saves epoch_N.pth in its work_dir)'
    raise UserError(f'Checkpoint {filename} does not exist. Train one with '
                    f'{train}, or convert the authors\' released weights '
                    'with tools/model_converters/rlanet_to_mmrla.py.')


def _first(keys: List[str], n: int = 10) -> str:
    more = f' and {len(keys) - n} more' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def saved_config(checkpoint: str) -> Optional[str]:
    """The config ``tools/train.py`` saved next to ``checkpoint``, if it
    is in a work dir (the runner dumps the config it trains with there,
    and its checkpoint hook writes ``last_checkpoint``)."""
    folder = osp.dirname(checkpoint) or '.'
    if not osp.isfile(osp.join(folder, 'last_checkpoint')):
        return None
    found = glob.glob(osp.join(folder, '*.py'))
    return found[0] if len(found) == 1 else None


def check_checkpoint(model: nn.Module,
                     filename: str,
                     allow_unexpected: bool = True) -> None:
    """Refuse a checkpoint file that would leave ``model`` partly random.

    The file is read as mmengine's loaders read it (``state_dict`` entry,
    ``module.`` prefix removed).

    Args:
        model (nn.Module): The model (unwrapped) the file is for.
        filename (str): A local checkpoint.
        allow_unexpected (bool): Accept keys the model does not use.

    Raises:
        UserError: For a file that is not a checkpoint or that weights-only
            loading refuses (:mod:`mmrla.engine.safe_load`), for an authors'
            unconverted file (naming the converter command), a file that
            misses parameters or buffers of the model (listing the first
            ones), has tensors of other shapes, or, unless allowed, keys the
            model does not have.
    """
    try:
        state_dict = strip_module_prefix(read_state_dict(filename))
    except CheckpointLoadError as e:
        raise UserError(str(e)) from e
    try:
        check_unconverted(state_dict, filename)
    except UnconvertedCheckpointError as e:
        raise UserError(str(e)) from e
    mismatch = checkpoint_mismatch(model, state_dict)
    problems = []
    if mismatch.missing:
        total = len(model.state_dict())
        problems.append(
            f'it lacks {len(mismatch.missing)} of the model\'s {total} '
            f'weights and buffers: {_first(mismatch.missing)}')
    if mismatch.wrong_shape:
        problems.append(
            f'{len(mismatch.wrong_shape)} tensors have another shape: '
            f'{_first(mismatch.wrong_shape, 3)}')
    if mismatch.unexpected and not allow_unexpected:
        problems.append(f'{len(mismatch.unexpected)} keys are not in the '
                        f'model: {_first(mismatch.unexpected, 3)}')
    if problems:
        saved = saved_config(filename)
        use = f'Pass {saved}, the config saved with it by tools/train.py' \
            if saved else 'Use the config that the checkpoint was trained ' \
            'or converted for'
        raise UserError(
            f'{filename} does not fit the model of the config, so part of '
            f'the model would keep random weights: {"; ".join(problems)}. '
            f'{use}.')


def load_checked_checkpoint(model: nn.Module,
                            filename: str,
                            allow_unexpected: bool = True) -> dict:
    """Check that ``filename`` fits ``model`` (:func:`check_checkpoint`),
    then load it without mmengine's log lines.

    Checking first keeps mmengine from printing every key of a wrong file
    (several kB) before the one line that explains it.

    Args:
        model (nn.Module): The model to load into.
        filename (str): A local checkpoint.
        allow_unexpected (bool): Accept keys the model does not use.

    Returns:
        dict: The checkpoint, e.g. for its ``meta``.

    Raises:
        UserError: See :func:`check_checkpoint`.
    """
    from mmengine.runner import load_checkpoint
    check_checkpoint(model, filename, allow_unexpected)
    return load_checkpoint(
        model, filename, map_location='cpu', logger='silent')
