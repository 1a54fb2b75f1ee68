"""Load checkpoints weights-only: unpickling a file never runs its code.

A PyTorch checkpoint is a pickle, and a full unpickle calls whatever
function the file names. :func:`load_checkpoint_file` unpickles with
PyTorch's weights-only unpickler instead, which builds tensors, plain python
values and the few types of :func:`checkpoint_globals` only: the ones that
checkpoints written by mmengine's runner (for mmpretrain and mmdet), by
:class:`~mmrla.engine.ExactResumeHook`, by the converter and by the authors'
own training code hold. A file that names anything else is refused with
one line, unless the user trusts it (``MMRLA_TRUST_CHECKPOINTS=1``).

:func:`register_checkpoint_globals` adds those types to torch's own
allowlist (``torch.serialization.add_safe_globals``); ``import mmrla`` calls
it, so that torch's weights-only ``torch.load`` (its default from torch 2.6
on) reads the checkpoints of mmengine's runner. :func:`enable_safe_loading`
makes mmengine's ``CheckpointLoader`` (used by ``load_from``, ``--resume``,
``init_cfg=dict(type='Pretrained')``, ``get_model(pretrained=...)`` and the
inferencers) load every source this way; the tools call it, and so can a
script (docs/weights.md, "Safe loading").
"""
import importlib
import io
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from contextlib import contextmanager
from functools import lru_cache
from typing import IO, Any, Callable, Iterator, Optional, Tuple, Union

import torch

TRUST_ENV = 'MMRLA_TRUST_CHECKPOINTS'

# Names torch's weights-only unpickler gives in its two refusals.
_WANTED = (re.compile(r'GLOBAL (\S+) was not an allowed global'),
           re.compile(r'unsupported GLOBAL (\S+) whose module'))

_announced = set()


class CheckpointLoadError(Exception):
    """A checkpoint that cannot be loaded; the message is one line that
    names the file, the reason and the fix."""


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint whose pickle asks for more than weights-only loading
    allows.

    Attributes:
        wanted (str): The first global it asked for (e.g. ``posix.system``),
            or torch's reason when it was not a global.
    """

    def __init__(self, message: str, wanted: str) -> None:
        super().__init__(message)
        self.wanted = wanted


# The statistics methods mmengine's HistoryBuffer registers itself.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _qualified_name(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f'{cls.__module__}.{cls.__qualname__}'


def _statistics_method(owner: Any, name: str, *default) -> Any:
    """``getattr`` for weights-only unpickling: one of HistoryBuffer's own
    statistics methods, nothing else.

    A ``HistoryBuffer`` pickles its statistics methods by name, as
    ``getattr(HistoryBuffer, 'min')``; allowing ``builtins.getattr`` itself
    would let a file fetch any attribute of any object it builds.
    """
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS and \
            not default:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL builtins.getattr('
        f'{_qualified_name(owner)}.{name}) was not an allowed global by '
        'default.')


# The unpickler finds an allowed global by its __module__ and __name__: this
# one answers the pickle's `builtins.getattr`.
_statistics_method.__module__ = 'builtins'
_statistics_method.__name__ = _statistics_method.__qualname__ = 'getattr'


def _alias(fn: Callable, module: str) -> Callable:
    """``fn`` under another module's name, for the unpickler's lookup.

    numpy 2 moved ``numpy.core`` to ``numpy._core``: files pickled with
    numpy 1 name ``numpy.core.multiarray._reconstruct``, those of numpy 2
    ``numpy._core.multiarray._reconstruct``, and torch's weights-only
    unpickler finds an allowed global by its ``__module__`` and name.
    """

    def alias(*args):
        return fn(*args)

    alias.__module__ = module
    alias.__name__ = alias.__qualname__ = fn.__name__
    return alias


@lru_cache(maxsize=None)
def checkpoint_globals() -> Tuple[Any, ...]:
    """The globals, besides torch's own, that checkpoints hold.

    These are what checkpoints of mmengine's runner (mmpretrain and mmdet
    models, with or without :class:`~mmrla.engine.ExactResumeHook`) need
    beyond tensors and plain python values: its ``message_hub`` logs
    scalars in mmengine ``HistoryBuffer`` s, which hold numpy arrays and
    scalars and name their statistics methods (``getattr(HistoryBuffer,
    'min')``, answered by :func:`_statistics_method` only). numpy >= 1.25
    builds each dtype as an instance of its own class; the logged ones are
    float64 and the platform's int, so the numeric and bool dtypes are
    allowed. numpy's array and scalar constructors are allowed under the
    names both numpy 1 and numpy 2 pickle them with, so a file written on
    either loads on either. Everything else in those checkpoints
    (``meta``, optimizer, schedulers, the hook's entry), in the converter's
    output and in the authors' released files is tensors and plain python
    values.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer
    try:  # numpy >= 1.26 (numpy.core is deprecated from numpy 2 on)
        multiarray = importlib.import_module('numpy._core.multiarray')
    except ImportError:
        multiarray = np.core.multiarray
    constructors = (multiarray._reconstruct, multiarray.scalar)
    aliases = tuple(
        _alias(fn, module) for fn in constructors
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
        if fn.__module__ != module)
    dtypes = {
        type(np.dtype(t))
        for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                  np.float64)
    }
    return (*constructors, *aliases, np.ndarray, np.dtype,
            *sorted(dtypes, key=lambda t: t.__name__), HistoryBuffer,
            _statistics_method)


def _not_yet_allowed() -> list:
    """The globals of :func:`checkpoint_globals` that torch's allowlist
    does not hold yet (a user's own ``add_safe_globals`` stay as they
    are)."""
    allowed = torch.serialization.get_safe_globals()
    return [g for g in checkpoint_globals() if g not in allowed]


def register_checkpoint_globals() -> None:
    """Add the types checkpoints hold (:func:`checkpoint_globals`) to
    torch's weights-only allowlist, process-wide.

    With them, ``torch.load(file, weights_only=True)`` (torch's default
    from 2.6 on, and so mmengine's own loaders there) reads the
    checkpoints of mmengine's runner, which it refuses otherwise. It allows
    nothing that runs code: numpy's array and scalar constructors, the
    numeric dtypes, mmengine's ``HistoryBuffer`` and four of its methods.
    ``import mmrla`` calls it; calling it again changes nothing.

    Example:
        >>> register_checkpoint_globals()
        >>> from mmengine.logging import HistoryBuffer
        >>> HistoryBuffer in torch.serialization.get_safe_globals()
        True
    """
    missing = _not_yet_allowed()
    if missing:
        torch.serialization.add_safe_globals(missing)


def is_trusted() -> bool:
    """Whether ``MMRLA_TRUST_CHECKPOINTS`` allows full pickle for files that
    weights-only loading refuses."""
    return os.environ.get(TRUST_ENV, '').lower() in ('1', 'true', 'yes')


def _one_line(text: str, limit: int = 300) -> str:
    line = ' '.join(text.split())
    return line if len(line) <= limit else line[:limit - 3] + '...'


def _wanted(error: pickle.UnpicklingError) -> Optional[str]:
    """The global that torch's weights-only unpickler refused, if that was
    its reason."""
    for pattern in _WANTED:
        found = pattern.search(str(error))
        if found:
            return found[1]
    return None


def _reason(error: BaseException) -> str:
    """The error in one short line, without torch's weights-only advice."""
    reason = str(error).split('WeightsUnpickler error:', 1)[-1]
    reason = _one_line(reason.split('Check the documentation')[0], 160)
    return f'{type(error).__name__}: {reason}' if reason else \
        type(error).__name__


def _unreadable(source: str, error: BaseException) -> str:
    return (f'Cannot load {source} as a PyTorch checkpoint '
            f'({_reason(error)}): it is not a file that torch.save wrote, or '
            'it is incomplete.')


@contextmanager
def _checkpoint_globals_allowed() -> Iterator[None]:
    # Whether or not mmrla registered them (a user may have cleared torch's
    # allowlist), this load allows them.
    with torch.serialization.safe_globals(_not_yet_allowed()):
        yield


def _load(load: Callable[[bool], Any], source: str) -> Any:
    """Call ``load(weights_only)`` weights-only; when that is refused, with
    full pickle if the user trusts the file, else raise one line."""
    try:
        with _checkpoint_globals_allowed():
            return load(True)
    except pickle.UnpicklingError as e:
        wanted = _wanted(e)
        if wanted is None:
            # Not a global: garbage, or pickle that torch.save does not
            # write. Only a trusted file gets a full unpickle.
            if not is_trusted():
                raise CheckpointLoadError(_unreadable(source, e)) from None
            wanted = _reason(e)
    except (RuntimeError, EOFError, KeyError, ValueError, UnicodeError,
            zipfile.BadZipFile) as e:  # torch's reading errors name no file
        raise CheckpointLoadError(_unreadable(source, e)) from None
    except OSError as e:  # no permission, a failed download
        raise CheckpointLoadError(
            f'Cannot read {source} ({_reason(e)}).') from None
    if not is_trusted():
        raise UnsafeCheckpointError(
            f'Refusing to load {source}: its pickle asks for {wanted}, which '
            'weights-only loading does not allow (it is none of the types '
            'checkpoints hold, and unpickling it could run code). If you '
            f'trust the file, set {TRUST_ENV}=1 to load it with full pickle.',
            wanted)
    try:
        checkpoint = load(False)
    except Exception as e:
        raise CheckpointLoadError(_unreadable(source, e)) from None
    if source not in _announced:
        _announced.add(source)
        from mmengine.logging import print_log
        print_log(
            f'Loaded {source} with full pickle ({TRUST_ENV}=1): it asks for '
            f'{wanted}, which weights-only loading refuses.',
            logger='current',
            level=logging.WARNING)
    return checkpoint


def load_checkpoint_file(file: Union[str, IO[bytes]],
                         map_location=None,
                         mmap: bool = False,
                         source: Optional[str] = None) -> Any:
    """``torch.load`` a checkpoint weights-only.

    Args:
        file (str | file-like): A local file, or its bytes.
        map_location: As for :func:`torch.load`.
        mmap (bool): Memory-map the tensors of a zip-format file (ignored
            for the legacy format), e.g. to look at keys only.
        source (str, optional): How messages name the file; the path by
            default.

    Returns:
        The unpickled object (a dict for a checkpoint).

    Raises:
        UnsafeCheckpointError: If the pickle asks for anything that
            :func:`checkpoint_globals` and torch do not allow, and
            ``MMRLA_TRUST_CHECKPOINTS`` is not set (with it, the file loads
            with full pickle, which is logged once per file).
        CheckpointLoadError: If the file is not a PyTorch checkpoint.
        FileNotFoundError: If the local file does not exist.

    Example:
        >>> buffer = io.BytesIO()
        >>> torch.save({'meta': {'epoch': 1}, 'w': torch.ones(1)}, buffer)
        >>> _ = buffer.seek(0)
        >>> load_checkpoint_file(buffer)['meta']
        {'epoch': 1}
    """
    if source is None:
        source = file if isinstance(file, str) else 'the checkpoint'
    if isinstance(file, str):
        if not osp.isfile(file):
            raise FileNotFoundError(f'{file} can not be found.')
        # The legacy (pre zip) format cannot be memory-mapped.
        mmap = mmap and zipfile.is_zipfile(file)

    def load(weights_only: bool) -> Any:
        if not isinstance(file, str):
            file.seek(0)
        return torch.load(
            file,
            map_location=map_location,
            weights_only=weights_only,
            mmap=mmap or None)

    return _load(load, source)


# mmengine's CheckpointLoader schemes, loading weights-only ----------------


def _converted(checkpoint: Any, source: str) -> Any:
    """``checkpoint``, unless it is in the layout of the authors' released
    RLANet files: mmengine would load those non-strictly into an mmrla
    model, leaving it random, so they stop with the converter command."""
    from mmrla.converters import UnconvertedCheckpointError, check_unconverted
    if isinstance(checkpoint, dict):
        state_dict = checkpoint.get('state_dict', checkpoint)
        try:
            check_unconverted(state_dict, source)
        except UnconvertedCheckpointError as e:
            raise CheckpointLoadError(str(e)) from None
    return checkpoint


def load_from_local(filename: str, map_location=None) -> Any:
    """mmengine's ``load_from_local``, weights-only."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return _converted(load_checkpoint_file(filename, map_location), filename)


def load_from_http(filename: str,
                   map_location=None,
                   model_dir: Optional[str] = None,
                   progress: Optional[bool] = None) -> Any:
    """mmengine's ``load_from_http``, weights-only: torch.hub downloads the
    file into its cache (rank 0 first in a distributed run), showing
    progress on a terminal."""
    if progress is None:
        progress = os.isatty(0)
    from mmengine.dist import get_dist_info
    from torch.hub import load_state_dict_from_url

    def load(weights_only: bool) -> Any:
        return load_state_dict_from_url(
            filename,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=weights_only)

    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = _load(load, filename)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = _load(load, filename)
    return _converted(checkpoint, filename)


def load_from_torchvision(filename: str, map_location=None) -> Any:
    """mmengine's ``load_from_torchvision`` (also ``modelzoo://``),
    weights-only."""
    from mmengine.runner.checkpoint import get_torchvision_models
    model_name = filename.split('://', 1)[1]
    url = get_torchvision_models()[model_name]
    return load_from_http(url, map_location=map_location)


def load_from_openmmlab(filename: str, map_location=None) -> Any:
    """mmengine's ``load_from_openmmlab``, weights-only."""
    from mmengine.runner.checkpoint import (_get_mmengine_home,
                                            get_deprecated_model_names,
                                            get_external_models)
    model_name = filename.split('://', 1)[1]
    model_name = get_deprecated_model_names().get(model_name, model_name)
    url = get_external_models()[model_name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location=map_location)
    return load_from_local(
        osp.join(_get_mmengine_home(), url), map_location=map_location)


def load_from_mmcls(filename: str, map_location=None) -> Any:
    """mmengine's ``load_from_mmcls``, weights-only."""
    from mmengine.runner.checkpoint import (_process_mmcls_checkpoint,
                                            get_mmcls_models)
    url = get_mmcls_models()[filename[len('mmcls://'):]]
    return _process_mmcls_checkpoint(
        load_from_http(url, map_location=map_location))


def load_from_ceph(filename: str,
                   map_location=None,
                   backend: str = 'petrel') -> Any:
    """mmengine's ``load_from_ceph`` (``s3://``, ``petrel://``),
    weights-only."""
    from mmengine.fileio import get_file_backend
    file_backend = get_file_backend(
        filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return _converted(
            load_checkpoint_file(buffer, map_location, source=filename),
            filename)


def load_from_pavi(filename: str, map_location=None) -> Any:
    """mmengine's ``load_from_pavi``, weights-only."""
    import tempfile
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError(
            'Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[len('pavi://'):])
    with tempfile.TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return _converted(
            load_checkpoint_file(downloaded, map_location, source=filename),
            filename)


# mmengine's scheme prefixes and the loaders that replace its own.
SCHEMES = {
    '': load_from_local,
    'http://': load_from_http,
    'https://': load_from_http,
    'modelzoo://': load_from_torchvision,
    'torchvision://': load_from_torchvision,
    'open-mmlab://': load_from_openmmlab,
    'openmmlab://': load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    r'(\S+\:)?s3://': load_from_ceph,
    r'(\S+\:)?petrel://': load_from_ceph,
    'pavi://': load_from_pavi,
}


def enable_safe_loading() -> None:
    """Make mmengine's ``CheckpointLoader`` load every source weights-only.

    Replaces the loaders mmengine registers for its URI schemes (local
    files, ``http(s)://``, ``torchvision://``, ``open-mmlab://``,
    ``mmcls://``, ``s3://``, ``pavi://``) with the ones above, for this
    process. mmrla's tools call it first thing; a script that loads files
    from others through mmengine, mmpretrain or mmdet (``load_from``,
    ``get_model(pretrained=...)``, the inferencers) can call it too.
    ``import mmrla`` does not: it only registers the allowlist
    (:func:`register_checkpoint_globals`). Why a replacement is still
    needed on every torch: mmengine loads local files with torch's default
    (full pickle before torch 2.6) and downloads through torch.hub, which
    unpickles in full on every torch; and the replacement gives each
    refusal its one line and the trust opt-in. The replaced loaders also
    refuse a file in the layout of the authors' released RLANet checkpoints
    with the converter command, where mmengine would leave an mmrla model
    random. Calling it again changes nothing.

    Example:
        >>> from mmengine.runner import CheckpointLoader
        >>> enable_safe_loading()
        >>> CheckpointLoader._get_checkpoint_loader('https://x/y.pth')
        ... # doctest: +ELLIPSIS
        <function load_from_http at ...>
        >>> _.__module__
        'mmrla.engine.safe_load'
    """
    from mmengine.runner import CheckpointLoader
    register_checkpoint_globals()
    for prefix, loader in SCHEMES.items():
        CheckpointLoader.register_scheme(prefix, loader, force=True)
