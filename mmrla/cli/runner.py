"""Config loading, input checks, options and the error report shared by
the command-line tools."""
import argparse
import difflib
import functools
import glob
import os
import os.path as osp
import sys
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

from mmrla.datasets.dataset_cfg import dataset_cfgs, dataset_class, join_root
from mmrla.engine.safe_load import enable_safe_loading
from mmrla.errors import UserError
from .data_root import move_data_root
from .model_check import explained_build_errors


def main_entry(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a tool's ``main``: every checkpoint it loads through
    mmengine loads weights-only (:func:`mmrla.engine.enable_safe_loading`),
    and a :class:`UserError` it raises becomes one line ``error: ...`` on
    stderr and the exit status 2 (argparse's status for a bad command line).

    Example:
        >>> @main_entry
        ... def main(argv=None):
        ...     raise UserError('--shape must be positive, got [-1].')
        >>> import contextlib, io
        >>> err = io.StringIO()
        >>> with contextlib.redirect_stderr(err):
        ...     status = main()
        >>> status, err.getvalue()
        (2, 'error: --shape must be positive, got [-1].\\n')
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        enable_safe_loading()
        try:
            return main(*args, **kwargs)
        except UserError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2

    return wrapper


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config file, merging ``--cfg-options``.

    Args:
        path (str): A config file, or a config of an installed package as
            ``_base_`` names them, e.g.
            ``mmpretrain::resnet/resnet50_8xb32_in1k.py``.
        cfg_options (dict, optional): Settings to merge; ``data_root``
            moves the paths that derive from it
            (:func:`~mmrla.cli.data_root.move_data_root`).

    Raises:
        UserError: If the file is missing (suggesting close names) or does
            not parse.
    """
    if '::' in path:
        # mmengine reads package configs only as a base of another config.
        try:
            cfg = Config.fromstring(f'_base_ = {path!r}', '.py')
        except (FileNotFoundError, ImportError, ValueError) as e:
            raise UserError(f'Cannot find config {path}: {e}') from e
        cfg_options = move_data_root(cfg, cfg_options, path)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        return cfg
    if not osp.isfile(path):
        folder = osp.dirname(path) or '.'
        known = [
            osp.relpath(p, folder)
            for p in glob.glob(osp.join(folder, '**', '*.py'), recursive=True)
        ]
        close = difflib.get_close_matches(
            osp.relpath(path, folder), known, n=3, cutoff=0.6)
        hint = f' Did you mean {", ".join(close)}?' if close else ''
        raise UserError(f'Config file {path} does not exist.{hint}')
    try:
        cfg = Config.fromfile(path)
    except (SyntaxError, NameError, ImportError, KeyError) as e:
        raise UserError(f'Cannot parse config {path}: '
                        f'{type(e).__name__}: {e}') from e
    cfg_options = move_data_root(cfg, cfg_options, path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def find_configs(configs: Sequence[str], folder: str) -> List[str]:
    """The config files a table tool reports on.

    Args:
        configs (Sequence[str]): Files given on the command line.
        folder (str): Where to look when none is given: every ``.py`` under
            it, recursively.

    Returns:
        list[str]: ``configs``, else the files found, sorted.

    Raises:
        UserError: Naming the given files that do not exist.
    """
    if not configs:
        return sorted(
            glob.glob(osp.join(folder, '**', '*.py'), recursive=True))
    missing = [c for c in configs if not osp.isfile(c)]
    if missing:
        raise UserError(f'no such config: {", ".join(missing)}')
    return list(configs)


def parse_runner_args(
        parser: argparse.ArgumentParser,
        argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Add the options every runner tool takes, parse, and export
    ``LOCAL_RANK``.

    The options are ``--cfg-options``, ``--launcher`` and ``--local-rank``
    (``torch.distributed.launch`` passes ``--local-rank`` with torch >= 2,
    ``--local_rank`` before; torchrun sets ``LOCAL_RANK`` instead, which
    then wins).
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs, e.g. '
        'train_cfg.max_epochs=1 "model.backbone.init_cfg=None"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def set_launcher_and_work_dir(cfg: Config, args: argparse.Namespace) -> None:
    """Set ``cfg.launcher`` from ``--launcher`` and ``cfg.work_dir`` from
    ``--work-dir``, else the config's own, else
    ``./work_dirs/<config name>``."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])


def _own_files(cls: Optional[type]) -> List[str]:
    """The files of fixed names a dataset class reads from its
    ``base_folder`` (mmpretrain's CIFAR10/100 and their subclasses:
    ``train_list``, ``test_list`` and ``meta``); [] for other classes."""
    if not getattr(cls, 'base_folder', None):
        return []
    names = [
        entry[0] for entry in getattr(cls, 'train_list', []) +
        getattr(cls, 'test_list', [])
    ]
    meta = getattr(cls, 'meta', None)
    if isinstance(meta, dict) and meta.get('filename'):
        names.append(meta['filename'])
    return names


def _source_hint(dataset: dict) -> Optional[str]:
    """Where the files of a dataset that reads fixed file names come from
    (mmpretrain's CIFAR: the archive ``filename`` at ``url``), else None."""
    cls = dataset_class(dataset)
    files = _own_files(cls)
    if not (files and getattr(cls, 'url', None)
            and getattr(cls, 'filename', None)):
        return None
    root = dataset.get('data_root') or '.'
    first = osp.join(join_root(root, cls.base_folder), files[0])
    return (f'Download {cls.filename} from {cls.url} and unpack it in '
            f'{root}, so that {first} exists')


def _data_paths(dataset: dict) -> Iterator[Tuple[str, str]]:
    root = dataset.get('data_root') or ''
    if root:
        yield 'data_root', root
    if dataset.get('ann_file'):
        yield 'ann_file', join_root(root, dataset['ann_file'])
    prefix = dataset.get('data_prefix')
    cls = dataset_class(dataset)
    if _own_files(cls):
        # mmpretrain's CIFAR10/100 read data_root/{base_folder}/<pickles>
        # and, for either split, refuse to start unless all are there.
        folder = join_root(root, cls.base_folder)
        yield 'data_root', folder
        for name in _own_files(cls):
            yield 'data_root', osp.join(folder, name)
    elif not prefix and isinstance(dataset.get('split'), str) and \
            dataset['split']:
        # mmpretrain's ImageNet reads data_root/{split} by default.
        yield 'split', join_root(root, dataset['split'])
    if isinstance(prefix, str):
        prefix = dict(img_path=prefix)
    for key, value in (prefix or {}).items():
        if isinstance(value, str) and value:
            yield f'data_prefix.{key}', join_root(root, value)


def check_data_paths(cfg: Config, splits: Sequence[str]) -> None:
    """Fail early, with the fix, when a dataloader's files are missing.

    Args:
        cfg (Config): A runner config.
        splits (Sequence[str]): Dataloaders to check, e.g. ``('train',
            'val')``; absent dataloaders are skipped.

    Raises:
        UserError: Naming the missing path and how to point the config at
            the data.
    """
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        for dataset in dataset_cfgs(loader.get('dataset')):
            for key, path in _data_paths(dataset):
                # Remote storage (s3://, http://) is for the backend to read.
                if '://' not in path and not os.path.exists(path):
                    field = key.split('.')[0]
                    also = '' if field == 'data_root' else \
                        f' (and {split}_dataloader.dataset.{field} if it ' \
                        'differs)'
                    fix = _source_hint(dataset) or \
                        'Prepare the dataset as the README describes'
                    raise UserError(
                        f'The {split} dataset {key} "{path}" does not exist. '
                        f'{fix}, or point the config at it, e.g. '
                        '--cfg-options '
                        f'{split}_dataloader.dataset.data_root=/path/to/data'
                        f'{also}.')
        # mmdet's CocoMetric reads its own copy of the annotation file.
        evaluator = cfg.get(f'{split}_evaluator')
        for metric in evaluator if isinstance(evaluator, list) else \
                [evaluator]:
            ann_file = metric.get('ann_file') if isinstance(metric,
                                                            dict) else None
            if ann_file and '://' not in ann_file and \
                    not os.path.exists(ann_file):
                raise UserError(
                    f'The {split} evaluator\'s ann_file "{ann_file}" does '
                    'not exist. Point it at the annotations, e.g. '
                    f'--cfg-options {split}_evaluator.ann_file='
                    '/path/to/annotations.json')


def build_runner(cfg: Config, config_path: str):
    """Build the config's runner, explaining a misspelled ``type`` or
    argument.

    Raises:
        UserError: If a registry does not know a ``type`` of the config, or
            a class does not take an argument it is given.
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    with explained_build_errors(cfg, config_path):
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
            Runner.from_cfg(cfg)
    runner.logger.addFilter(_drop_file_client_notices)
    return runner


# mmengine 0.10's CheckpointHook and Runner.save_checkpoint create a
# FileClient (and with it a HardDiskBackend) on every save, whatever the
# config says (file_client_args=None included), and each logs that it "will
# be deprecated": nothing a config or a caller does avoids them, so the
# tools' runners drop these two notices.
_FILE_CLIENT_NOTICES = ('"FileClient" will be deprecated',
                        '"HardDiskBackend" is the alias of "LocalBackend"')


def _drop_file_client_notices(record) -> bool:
    return not str(record.msg).startswith(_FILE_CLIENT_NOTICES)
