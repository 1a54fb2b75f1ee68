"""Build the model of a config for analysis, without its pretrained weights.

Counting parameters or FLOPs and timing a model need its architecture, not
the ImageNet weights its backbone's ``init_cfg`` names (a file the user may
not have, or a download); the tools use :func:`build_model_without_weights`.
"""
import contextlib
import copy
import importlib
import logging
from typing import Any, Iterator

import torch.nn as nn
from mmengine.config import Config


def _is_pretrained(init_cfg: Any) -> bool:
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def _drop_pretrained_(node: Any) -> None:
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        if _is_pretrained(init_cfg):
            node['init_cfg'] = None
        elif isinstance(init_cfg, (list, tuple)):
            node['init_cfg'] = [c for c in init_cfg if not _is_pretrained(c)
                                ] or None
        for value in node.values():
            _drop_pretrained_(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _drop_pretrained_(value)


def drop_pretrained_init(cfg: Any) -> Any:
    """Return a copy of a model config without its ``Pretrained`` init
    configs, at any depth; other init configs stay.

    Example:
        >>> cfg = dict(type='ImageClassifier', backbone=dict(
        ...     type='RLAResNet', depth=50, init_cfg=dict(
        ...         type='Pretrained', checkpoint='rla_resnet50_in1k.pth')))
        >>> drop_pretrained_init(cfg)['backbone']
        {'type': 'RLAResNet', 'depth': 50, 'init_cfg': None}
        >>> cfg['backbone']['init_cfg']['type']
        'Pretrained'
    """
    # A deep copy keeps the types (ConfigDict, tuples) the model expects.
    cfg = copy.deepcopy(cfg)
    _drop_pretrained_(cfg)
    return cfg


@contextlib.contextmanager
def mmengine_log_level(level: int = logging.WARNING) -> Iterator[None]:
    """Raise the level of mmengine's current logger for a block of code.

    ``init_weights()`` logs three lines per parameter at INFO (246 blocks of
    "The value is the same before and after calling init_weights" for a
    ResNet-50 classifier) when no runner has set up a log file; analysis
    tools do not want them.

    Example:
        >>> from mmengine.logging import MMLogger
        >>> logger = MMLogger.get_current_instance()
        >>> before = logger.level
        >>> with mmengine_log_level():
        ...     logger.isEnabledFor(logging.INFO)
        False
        >>> logger.level == before
        True
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def build_model_without_weights(cfg: Config,
                                init_weights: bool = False) -> nn.Module:
    """Build ``cfg.model`` with random weights, whatever checkpoint it names.

    The model is built in the config's ``default_scope`` (mmpretrain when
    the config sets none, as in mmpretrain's model base files) after
    importing :mod:`mmrla.models`; ``Pretrained`` init configs are removed
    from a copy, so ``cfg`` is not modified.

    Args:
        cfg (Config): A config with a ``model`` entry.
        init_weights (bool): Also run ``model.init_weights()``, e.g. for
            the Kaiming and zero initialization a training run starts from,
            without its per-parameter log (warnings are kept). Defaults to
            False (PyTorch's default initialization).

    Returns:
        nn.Module: The model.

    Example:
        >>> from mmengine.config import Config
        >>> cfg = Config(dict(model=dict(
        ...     type='RLAResNet', depth=18, init_cfg=dict(
        ...         type='Pretrained', checkpoint='missing.pth'))))
        >>> model = build_model_without_weights(cfg, init_weights=True)
        >>> type(model).__name__, cfg.model.init_cfg.type
        ('RLAResNet', 'Pretrained')
    """
    from mmengine.registry import init_default_scope
    scope = cfg.get('default_scope') or 'mmpretrain'
    init_default_scope(scope)
    importlib.import_module('mmrla.models')
    registry = importlib.import_module(f'{scope}.registry').MODELS
    model = registry.build(drop_pretrained_init(cfg.model))
    if init_weights:
        with mmengine_log_level(logging.WARNING):
            model.init_weights()
    return model
