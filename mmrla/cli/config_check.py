"""Check the argument names of a config's runner parts before a runner
starts.

mmengine builds the loops, the optimizer, the datasets, the evaluators and
most hooks only after it has logged the environment and the whole config,
and a misspelled argument then ends in a ``TypeError`` traceback hundreds of
lines down. This looks each part's class up in its registry, as the runner
will, and compares the config's keys with the arguments the class takes,
so that ``train_cfg.max_epoch`` gets the one line with "Did you mean" that a
misspelled backbone argument gets.
"""
import inspect
from typing import Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmrla.datasets.dataset_cfg import dataset_cfgs
from mmrla.errors import UserError
from .registry_names import (close_matches, quoted, registered_names,
                             scope_registry)

# Arguments the runner passes itself (default_args) or takes out of the
# config before building, per registry.
_GIVEN = {
    'loop': ('runner', 'dataloader', 'evaluator'),
    'optim_wrapper': ('optimizer', 'constructor', 'paramwise_cfg'),
    'optimizer': ('params', ),
    # convert_to_iter_based: taken by the runner's scheduler builder.
    'parameter scheduler': ('optimizer', 'convert_to_iter_based'),
    'dataset': (),
    'hook': (),
    'metric': (),
}
# Keys of a dataloader config that mmengine's Runner.build_dataloader takes
# out before the rest goes to torch's DataLoader.
_LOADER_KEYS = ('dataset', 'sampler', 'batch_sampler', 'collate_fn',
                'worker_init_fn')


def _accepted(cls) -> Optional[List[str]]:
    """The keyword arguments ``cls`` takes, following ``**kwargs`` to the
    base classes; None if they end open (any name is taken)."""
    names: List[str] = []
    for klass in cls.__mro__:
        if klass is object:
            return None
        try:
            params = inspect.signature(klass.__init__).parameters.values()
        except (TypeError, ValueError):
            return None
        names += [
            p.name for p in params
            if p.name != 'self' and p.kind not in (p.VAR_POSITIONAL,
                                                   p.VAR_KEYWORD)
        ]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None


def _parts(cfg: Config) -> Iterator[Tuple[str, dict, str, Optional[str]]]:
    """``(config path, dict, registry name, default type)`` of every part
    whose arguments are checked."""
    for split in ('train', 'val', 'test'):
        loop = cfg.get(f'{split}_cfg')
        if isinstance(loop, dict):
            default = None
            if split == 'train' and 'type' not in loop:
                default = 'EpochBasedTrainLoop' if loop.get(
                    'by_epoch', True) else 'IterBasedTrainLoop'
            elif split != 'train':
                default = f'{split.capitalize()}Loop'
            yield f'{split}_cfg', loop, 'loop', default
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            for i, dataset in enumerate(dataset_cfgs(loader.get('dataset'))):
                where = f'{split}_dataloader.dataset'
                yield where, dataset, 'dataset', None
        evaluator = cfg.get(f'{split}_evaluator')
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        for i, metric in enumerate(metrics):
            if isinstance(metric, dict) and 'metrics' not in metric:
                where = f'{split}_evaluator' + (f'.{i}' if isinstance(
                    evaluator, list) else '')
                yield where, metric, 'metric', None
    wrapper = cfg.get('optim_wrapper')
    if isinstance(wrapper, dict) and 'constructor' not in wrapper:
        yield 'optim_wrapper', wrapper, 'optim_wrapper', 'OptimWrapper'
        if isinstance(wrapper.get('optimizer'), dict):
            yield ('optim_wrapper.optimizer', wrapper['optimizer'],
                   'optimizer', None)
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, dict):
        yield 'param_scheduler', schedulers, 'parameter scheduler', None
    elif isinstance(schedulers, list):
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, dict):
                yield (f'param_scheduler.{i}', scheduler,
                       'parameter scheduler', None)
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if isinstance(hook, dict):
            yield f'default_hooks.{name}', hook, 'hook', None
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict):
            yield f'custom_hooks.{i}', hook, 'hook', None


def _lookup(scope: str, registry_name: str, type_name: str, where: str,
            config_path: str):
    """The class ``type_name`` names, or a UserError for an unknown one."""
    registry = scope_registry(scope, registry_name)
    if registry is None:  # (a Registry has a length: compare with None)
        registry = scope_registry('mmengine', registry_name)
    if registry is None:
        return None
    try:
        found = registry.get(type_name)
    except (KeyError, RuntimeError):
        found = None
    if found is not None:
        return found if inspect.isclass(found) else None
    if '.' in type_name:  # another scope's type, or an import path
        return None
    close = close_matches(type_name, registered_names(registry))
    hint = f' Did you mean {quoted(close)}?' if close else \
        ' Check the spelling, and that the module defining it is imported ' \
        '(custom_imports).'
    raise UserError(f'{where}.type = "{type_name}" in {config_path} is not '
                    f'in the {registry.scope}::{registry_name} registry.'
                    f'{hint}')


def check_config_arguments(cfg: Config,
                           config_path: str,
                           skip: Sequence[str] = ()) -> None:
    """Refuse an argument that a runner part's class does not take.

    Covers ``train_cfg``/``val_cfg``/``test_cfg``, the datasets of the
    dataloaders (and the dataloaders' own keys), the evaluators,
    ``optim_wrapper`` and its optimizer, ``param_scheduler`` and the hooks.
    Classes that pass ``**kwargs`` on to something open are not checked.

    Args:
        cfg (Config): A runner config.
        config_path (str): The config file, for the message.
        skip (Sequence[str]): Config paths not to check.

    Raises:
        UserError: ``<path>.<key> in <config>: <Class> has no argument
            "<key>". Did you mean "<closest>"?``, or an unknown ``type``
            with the closest registered names.

    Example:
        >>> from mmengine.config import Config
        >>> cfg = Config(dict(default_scope='mmpretrain', train_cfg=dict(
        ...     by_epoch=True, max_epoch=1)))
        >>> check_config_arguments(cfg, 'my_config.py')
        Traceback (most recent call last):
        ...
        mmrla.errors.UserError: train_cfg.max_epoch in my_config.py: \
EpochBasedTrainLoop has no argument "max_epoch". Did you mean "max_epochs", \
"by_epoch"?
    """
    scope = cfg.get('default_scope') or 'mmengine'
    for where, node, registry_name, default in _parts(cfg):
        if where in skip:
            continue
        type_name = node.get('type', default)
        if inspect.isclass(type_name):
            cls = type_name
        elif isinstance(type_name, str):
            cls = _lookup(scope, registry_name, type_name, where, config_path)
        else:
            cls = None
        valid = _accepted(cls) if cls is not None else None
        if valid is None and cls is not None and registry_name == 'hook':
            valid = _checkpoint_hook_arguments(cls)
        if valid is None:
            continue
        valid = list(
            dict.fromkeys(valid + list(_GIVEN[registry_name]) + ['type']))
        if registry_name == 'loop' and where == 'train_cfg':
            valid.append('by_epoch')
        for key in node:
            if key not in valid and not key.startswith('_'):
                close = close_matches(key, valid)
                hint = f'Did you mean {quoted(close)}?' if close else \
                    f'Its arguments are {quoted(valid[:12])}.'
                raise UserError(f'{where}.{key} in {config_path}: '
                                f'{cls.__name__} has no argument "{key}". '
                                f'{hint}')
    _check_loader_keys(cfg, config_path)


def _checkpoint_hook_arguments(cls) -> Optional[List[str]]:
    """mmengine's CheckpointHook passes its other keyword arguments to
    ``Runner.save_checkpoint`` at the first save: those are its arguments
    too (a misspelled one would fail only then)."""
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import Runner
    if not issubclass(cls, CheckpointHook):
        return None
    own = inspect.signature(cls.__init__).parameters.values()
    save = inspect.signature(Runner.save_checkpoint).parameters.values()
    return [
        p.name for p in list(own) + list(save)
        if p.name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _check_loader_keys(cfg: Config, config_path: str) -> None:
    from torch.utils.data import DataLoader
    valid = _accepted(DataLoader) + list(_LOADER_KEYS)
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not isinstance(loader, dict):
            continue
        for key in loader:
            if key not in valid and not key.startswith('_'):
                close = close_matches(key, valid)
                hint = f' Did you mean {quoted(close)}?' if close else ''
                raise UserError(f'{split}_dataloader.{key} in {config_path}: '
                                'a dataloader has no setting '
                                f'"{key}".{hint}')
