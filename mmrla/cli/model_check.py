"""Check the model of a config before a runner starts, and explain the
mistakes a user makes in it in one line.

mmengine's runner logs the environment and the whole config (hundreds of
lines) before it builds the model, so a misspelled ``type`` is reported far
down the screen, and a misspelled argument ends in a bare ``TypeError``
traceback. The tools therefore build the model first (under a second on CPU
for every config of the project) and turn these errors into a line that
names the config entry, the config file and the closest valid names.
"""
import contextlib
import inspect
import re
from typing import Iterator, List, Mapping, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config

from mmrla.errors import UserError
from .build import build_model_without_weights
from .registry_names import (close_matches, quoted, registered_names,
                             scope_registry)

# mmengine's build_from_cfg: "X is not in the mmdet::model registry. ..."
_NOT_REGISTERED = re.compile(
    r'^(?P<type>\S+) is not in the (?P<scope>[\w.]+)::(?P<registry>[\w ]+) '
    r'registry')
# Python's own messages for a call with wrong keyword arguments.
_UNEXPECTED = re.compile(r'(?P<cls>\w+)\.__init__\(\) got an unexpected '
                         r"keyword argument '(?P<arg>\w+)'")
_MISSING = re.compile(r'(?P<cls>\w+)\.__init__\(\) missing \d+ required '
                      r'(?:positional |keyword-only )?arguments?: '
                      r"(?P<args>'\w+'(?:(?:, | and |, and )'\w+')*)")


def _nodes(node, path: str = '') -> Iterator[Tuple[str, Mapping]]:
    """Yield ``(dotted path, dict)`` for every dict in a config tree."""
    if isinstance(node, Mapping):
        yield path, node
        for key, value in node.items():
            yield from _nodes(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _nodes(value, f'{path}.{i}' if path else str(i))


def _resolve(type_name, scope: Optional[str]) -> Optional[type]:
    """The class a config ``type`` names, looked up as the model builders do
    (the scope's model and task-util registries, then mmengine's)."""
    if inspect.isclass(type_name):
        return type_name
    if not isinstance(type_name, str):
        return None
    for package in (scope, 'mmengine'):
        for name in ('model', 'task util'):
            registry = scope_registry(package, name)
            try:
                found = registry.get(type_name) if registry else None
            except RuntimeError:  # mmengine: neither registered nor a path
                found = None
            if inspect.isclass(found):
                return found
    return None


def _arguments(cls: type, refusing: str) -> List[str]:
    """The keyword arguments ``cls`` takes: its own and, when it passes
    ``**kwargs`` on, those of the base class named ``refusing``."""
    names: List[str] = []
    for klass in cls.__mro__:
        if klass is object:
            break
        try:
            params = inspect.signature(klass.__init__).parameters.values()
        except (TypeError, ValueError):
            break
        names += [
            p.name for p in params
            if p.name != 'self' and p.name not in names and p.kind not in (
                p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params)
        if klass.__name__ == refusing or not takes_kwargs:
            break
    return names


def _explain_unregistered(match, tree: Mapping, config_path: str) -> str:
    type_name = match['type']
    where = [
        f'{path}.type' for path, node in _nodes(tree)
        if node.get('type') == type_name
    ]
    registry = scope_registry(match['scope'], match['registry'])
    close = close_matches(type_name, registered_names(registry)) if registry \
        else []
    hint = f' Did you mean {quoted(close)}?' if close else \
        ' Check the spelling, and that the module defining it is imported ' \
        '(custom_imports).'
    entry = f'{" and ".join(where)} = ' if where else 'The type '
    return (f'{entry}"{type_name}" in {config_path} is not in the '
            f'{match["scope"]}::{match["registry"]} registry.{hint}')


def _explain_arguments(match, missing: Optional[List[str]], tree: Mapping,
                       scope: Optional[str], config_path: str) -> str:
    refusing = match['cls']
    for path, node in _nodes(tree):
        cls = _resolve(node.get('type'), scope)
        if cls is None or refusing not in (c.__name__ for c in cls.__mro__):
            continue
        valid = _arguments(cls, refusing)
        if missing is not None:
            absent = [a for a in missing if a not in node]
            if absent:
                return (f'{path} in {config_path}: {cls.__name__} needs the '
                        f'argument {quoted(absent)}; add it to the config '
                        f'(e.g. --cfg-options {path}.{absent[0]}=...).')
            continue
        arg = match['arg']
        if arg not in node:
            continue
        close = close_matches(arg, valid)
        hint = f'Did you mean {quoted(close)}?' if close else \
            f'Its arguments are {quoted(valid)}.'
        return (f'{path}.{arg} in {config_path}: {cls.__name__} has no '
                f'argument "{arg}". {hint}')
    if missing is None:
        # Types that no registry builds (e.g. mmdet takes RoI layers from
        # mmcv.ops by name): the entry can still be named.
        for path, node in _nodes(tree):
            if node.get('type') == refusing and match['arg'] in node:
                return (f'{path}.{match["arg"]} in {config_path}: '
                        f'{refusing} has no argument "{match["arg"]}"; '
                        'check its spelling.')
    return None


def explain_build_error(error: Exception, cfg: Config,
                        config_path: str) -> Optional[UserError]:
    """Turn a config mistake that made building fail into a one-line error.

    Args:
        error (Exception): What the build raised.
        cfg (Config): The config it built from.
        config_path (str): The config file, for the message.

    Returns:
        UserError or None: For a ``type`` missing from its registry (with
        the closest registered names) or a wrong or missing constructor
        argument (with the config entry and the closest valid names); None
        for other errors, which are not the config's spelling.

    Example:
        >>> import mmrla.models  # registers RLAResNet
        >>> from mmengine.config import Config
        >>> cfg = Config(dict(model=dict(
        ...     type='ImageClassifier',
        ...     backbone=dict(type='RLAResNet', dpeth=18))))
        >>> error = TypeError('RLAResNet.__init__() got an unexpected '
        ...                   "keyword argument 'dpeth'")
        >>> print(explain_build_error(error, cfg, 'my_config.py'))
        model.backbone.dpeth in my_config.py: RLAResNet has no argument \
"dpeth". Did you mean "depth"?
    """
    message = str(error.args[0]) if error.args else ''
    tree = cfg.to_dict() if isinstance(cfg, Config) else dict(cfg)
    scope = cfg.get('default_scope') or 'mmpretrain'
    text = None
    if isinstance(error, KeyError):
        match = _NOT_REGISTERED.match(message)
        if match:
            text = _explain_unregistered(match, tree, config_path)
    elif isinstance(error, TypeError):
        match = _UNEXPECTED.search(message)
        if match:
            text = _explain_arguments(match, None, tree, scope, config_path)
        match = None if match else _MISSING.search(message)
        if match:
            missing = re.findall(r"'(\w+)'", match['args'])
            text = _explain_arguments(match, missing, tree, scope, config_path)
    return UserError(text) if text else None


@contextlib.contextmanager
def explained_build_errors(cfg: Config, config_path: str) -> Iterator[None]:
    """Re-raise the errors of building from ``cfg`` that
    :func:`explain_build_error` explains as that one-line
    :class:`UserError`; others pass unchanged."""
    try:
        yield
    except (KeyError, TypeError) as e:
        error = explain_build_error(e, cfg, config_path)
        if error is None:
            raise
        raise error from e


def check_model_config(cfg: Config, config_path: str) -> nn.Module:
    """Build the config's model (without pretrained weights), so that its
    mistakes are reported before a runner prints anything.

    Args:
        cfg (Config): A config with a ``model`` entry.
        config_path (str): The config file, for the messages.

    Returns:
        nn.Module: The model, with PyTorch's default initialization. The
        default scope is as before the call.

    Raises:
        UserError: A one-line explanation of a misspelled ``type`` or
            argument of the model (see :func:`explain_build_error`) or of
            another runner part (see
            :func:`~mmrla.cli.config_check.check_config_arguments`), or
            the message of a value the model's classes refuse
            (``ValueError``).
    """
    from mmengine.registry import DefaultScope

    from .config_check import check_config_arguments

    # The scope is set for this build only: the runner or inferencer sets
    # its own afterwards, and a caller in the same process keeps its own.
    scope = cfg.get('default_scope') or 'mmpretrain'
    with DefaultScope.overwrite_default_scope(scope), \
            explained_build_errors(cfg, config_path):
        # The runner builds these only after its logs.
        check_config_arguments(cfg, config_path)
        try:
            return build_model_without_weights(cfg)
        except ValueError as e:
            # How the model's classes refuse a value (a depth, a cell type).
            raise UserError(
                f'The model of {config_path} cannot be built: {e}') from e
