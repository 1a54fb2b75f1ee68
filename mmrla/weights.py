"""Does a checkpoint file fit a model: every check of a file against a
model, in one module.

mmengine loads ``load_from``, ``--resume`` files, ``init_cfg`` weights and
the files of mmpretrain's ``get_model`` and the inferencers non-strictly: a
file of another model loads "successfully" with a warning that lists every
missing key, and an authors' unconverted file leaves the model random. The
models do not read files; the tools run these checks before mmengine loads
anything, and library code loads through :func:`load_checked_checkpoint`
or checks a config with :func:`check_pretrained_weights` and
:func:`check_start_weights` (docs/weights.md, "Which path checks where").
Files are read weights-only and memory-mapped: the checks look at keys and
shapes, not at the tensors.
"""
import glob
import os
import os.path as osp
import re
from typing import (Iterable, Iterator, List, Mapping, NamedTuple, Optional,
                    Tuple)

import torch
import torch.nn as nn
from mmengine.config import Config

from mmrla.converters import (CONVERTER, UnconvertedCheckpointError,
                              check_unconverted, find_released,
                              strip_module_prefix)
from mmrla.engine.safe_load import (CheckpointLoadError, UnsafeCheckpointError,
                                    load_checkpoint_file)
from mmrla.errors import UserError

# The residual blocks of torchvision's (and timm's) ResNets.
_TORCHVISION_LAYER = re.compile(r'^layer([1-4])\.(\d+)\.')


def _resnet_depth(keys: Iterable[str]) -> Optional[int]:
    """The depth of a ResNet from its ``layerS.B.`` keys (3 layers per
    bottleneck block, 2 per basic block, plus the stem conv and the fc)."""
    keys = list(keys)
    blocks = {(m[1], m[2]) for m in map(_TORCHVISION_LAYER.match, keys) if m}
    if not blocks:
        return None
    per_block = 3 if any('.conv3.' in k for k in keys) else 2
    return len(blocks) * per_block + 2


def describe_state_dict(keys: Iterable[str]) -> str:
    """What kind of file a state dict's keys come from, in words.

    Example:
        >>> keys = ['conv1.weight', 'fc.weight'] + [
        ...     f'layer{s}.{b}.conv3.weight'
        ...     for s, n in zip((1, 2, 3, 4), (3, 4, 6, 3)) for b in range(n)]
        >>> describe_state_dict(keys)
        'a torchvision ResNet-50 classification file'
        >>> describe_state_dict(['backbone.layer1.0.conv1.weight',
        ...                      'head.fc.weight'])
        'an mmpretrain or mmdet checkpoint of a plain ResNet (no RLA weights)'
    """
    keys = [k[len('module.'):] if k.startswith('module.') else k for k in keys]
    if not keys:
        return 'a file without weights for this model'
    if 'conv1.weight' in keys and 'fc.weight' in keys:
        depth = _resnet_depth(keys)
        if depth:
            return f'a torchvision ResNet-{depth} classification file'
    if any(k.startswith('backbone.') for k in keys):
        inner = [
            k[len('backbone.'):] for k in keys if k.startswith('backbone.')
        ]
        if not any('rla' in k or 'conv_out' in k for k in inner) and \
                any(_TORCHVISION_LAYER.match(k) for k in inner):
            return ('an mmpretrain or mmdet checkpoint of a plain ResNet '
                    '(no RLA weights)')
        return ('a checkpoint of another model (its backbone keys begin '
                f'{", ".join(repr(k) for k in inner[:2])})')
    shown = ', '.join(repr(k) for k in keys[:3])
    return f'a file of another model (keys {shown}, ...)'


def read_state_dict(filename: str) -> Mapping[str, torch.Tensor]:
    """The state dict of a local checkpoint, as mmengine's loaders take it.

    That is the ``state_dict`` entry, or the whole file without one
    (``module.`` prefixes are kept). The file is loaded weights-only
    (:func:`~mmrla.engine.safe_load.load_checkpoint_file`); zip files are
    memory-mapped, so looking at the keys does not read the tensors.

    Raises:
        CheckpointLoadError: If the file is not a PyTorch checkpoint, or
            (:class:`~mmrla.engine.safe_load.UnsafeCheckpointError`) its
            pickle asks for more than weights-only loading allows.
    """
    checkpoint = load_checkpoint_file(filename, map_location='cpu', mmap=True)
    if not isinstance(checkpoint, Mapping):
        return {}
    return checkpoint.get('state_dict', checkpoint)


def check_checkpoint_file(filename: str) -> None:
    """Refuse a local checkpoint file that must not be loaded: one whose
    pickle asks for more than weights-only loading allows, or one in the
    authors' unconverted layout.

    Files that are not checkpoints are left to the checks and loaders that
    read them next, which report them in one line.

    Raises:
        UnsafeCheckpointError: See :func:`read_state_dict`.
        UnconvertedCheckpointError: Naming the converter command.
    """
    try:
        state_dict = read_state_dict(filename)
    except UnsafeCheckpointError:
        raise
    except CheckpointLoadError:
        return
    check_unconverted(state_dict, filename)


def check_converted(filename: str) -> None:
    """Fail early, with the converter command, on an authors' released file,
    and with one line on a file that must not be loaded.

    Raises:
        UserError: If the local file ``filename`` is in the authors'
            unconverted layout, is not a checkpoint, or asks for more than
            weights-only loading allows (:mod:`mmrla.engine.safe_load`).
    """
    try:
        check_checkpoint_file(filename)
    except (UnconvertedCheckpointError, CheckpointLoadError) as e:
        raise UserError(str(e)) from e


def check_pretrained_file(checkpoint: str) -> None:
    """Check a local ``init_cfg`` checkpoint before mmengine loads it.

    mmengine would fail deep inside its loader on a missing file, and with
    "backbone. is not in the pretrained model" on an unconverted ImageNet
    file; this names the fix instead. Remote URIs (``http://``,
    ``torchvision://``, ...) are left to mmengine.

    Raises:
        FileNotFoundError: If ``checkpoint`` is a missing local path.
        UnconvertedCheckpointError: If it is an authors' file, unconverted.
        UnsafeCheckpointError: See :func:`read_state_dict`.
    """
    if not isinstance(checkpoint, str) or '://' in checkpoint:
        return
    if osp.isfile(checkpoint):
        check_checkpoint_file(checkpoint)
        return
    released = find_released(checkpoint)
    if released is None:
        # Not a name of the authors' files: e.g. a layer-attention or a
        # self-trained backbone, which no converter produces.
        raise FileNotFoundError(
            f'Pretrained backbone weights "{checkpoint}" not found. Train '
            'them first with the matching classification config (its '
            'work_dir holds epoch_N.pth), point init_cfg.checkpoint at an '
            'existing file, or train the backbone from scratch: '
            '--cfg-options model.backbone.init_cfg=None')
    source = released.filename
    raise FileNotFoundError(
        f'Pretrained backbone weights "{checkpoint}" not found. Either '
        'convert the authors\' ImageNet checkpoint (github.com/'
        f'fangyanwen1106/RLANet): python {CONVERTER} {source} {checkpoint} '
        '; or train the backbone from scratch: --cfg-options '
        'model.backbone.init_cfg=None')


def check_pretrained_weights(cfg: Config) -> None:
    """Fail early, with the fix, when the weights to start from are unusable.

    Raises:
        UserError: If ``model.backbone.init_cfg`` names a missing local file,
            or it, ``load_from`` or the checkpoint ``resume`` picks is an
            authors' released file that was not converted (the message
            names the converter command), not a checkpoint, or refused by
            weights-only loading.
    """
    init_cfg = cfg.get('model', {}).get('backbone', {}).get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        try:
            check_pretrained_file(init_cfg.get('checkpoint'))
        except (FileNotFoundError, UnconvertedCheckpointError,
                CheckpointLoadError) as e:
            raise UserError(str(e)) from e
    load_from = cfg.get('load_from')
    if load_from is None and cfg.get('resume') and cfg.get('work_dir'):
        # --resume without a path: the checkpoint mmengine will pick.
        from mmengine.runner import find_latest_checkpoint
        load_from = find_latest_checkpoint(cfg.work_dir)
    if isinstance(load_from, str) and os.path.isfile(load_from):
        check_converted(load_from)


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
        mmrla.errors.UserError: Checkpoint epoch_12.pth does not exist. \
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


def _start_files(
        cfg: Config,
        model: nn.Module) -> Iterator[Tuple[str, str, nn.Module, str, str]]:
    """``(what, file, module, prefix, fix)`` of each local file to check."""
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and osp.isfile(load_from):
        if cfg.get('resume'):
            yield ('--resume', load_from, model, '',
                   'resume from a checkpoint that this config saved (its '
                   'work_dir holds epoch_N.pth or iter_N.pth)')
        else:
            yield ('load_from', load_from, model, '',
                   'point load_from at a checkpoint of this model, or start '
                   'without one: --cfg-options load_from=None')
    init_cfg = cfg.get('model', {}).get('backbone', {}).get('init_cfg')
    backbone = getattr(model, 'backbone', None)
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained' \
            and isinstance(init_cfg.get('checkpoint'), str) \
            and osp.isfile(init_cfg['checkpoint']) and backbone is not None:
        prefix = init_cfg.get('prefix') or ''
        if prefix and not prefix.endswith('.'):
            prefix += '.'  # as mmengine's loader completes it
        yield ('model.backbone.init_cfg', init_cfg['checkpoint'], backbone,
               prefix, 'point model.backbone.init_cfg.checkpoint at weights '
               'of this backbone (docs/weights.md), or train it from '
               'scratch: --cfg-options model.backbone.init_cfg=None')


def check_start_weights(cfg: Config, model: nn.Module) -> None:
    """Refuse, in one line, a start file that cannot be read or that would
    set less than half of the weights it is loaded into.

    Args:
        cfg (Config): The runner config (``load_from``, ``resume``,
            ``model.backbone.init_cfg``).
        model (nn.Module): The config's model, built without weights.

    Raises:
        UserError: Naming the file, what it is and what to do.
    """
    for what, filename, module, prefix, fix in _start_files(cfg, model):
        try:
            full = strip_module_prefix(read_state_dict(filename))
        except CheckpointLoadError as e:  # names the file and the reason
            raise UserError(f'{e} It is this run\'s {what}: {fix}.') from e
        except Exception as e:  # torch's pickle and zip errors name no file
            raise UserError(
                f'{filename} ({what}) cannot be read as a PyTorch '
                f'checkpoint ({type(e).__name__}: {str(e).splitlines()[0]}); '
                'the file is damaged or incomplete (copy it again), or not '
                f'a checkpoint: {fix}.') from e
        state_dict = {
            k[len(prefix):]: v
            for k, v in full.items() if k.startswith(prefix)
        }
        mismatch = checkpoint_mismatch(module, state_dict)
        total = sum(not k.endswith('num_batches_tracked')
                    for k in module.state_dict())
        unset = len(mismatch.missing) + len(mismatch.wrong_shape)
        if total and unset * 2 > total:
            raise UserError(
                f'{filename} ({what}) would set only {total - unset} of the '
                f'{total} weights it is loaded into, leaving the rest '
                f'random: it is {describe_state_dict(full)}. Instead, '
                f'{fix}.')
