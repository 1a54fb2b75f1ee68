"""Compile a detector's backbone and neck with ``torch.compile``."""
from typing import Sequence

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmrla.registry import HOOKS


@HOOKS.register_module()
class CompileBackboneHook(Hook):
    """Compile submodules of the model, by default ``backbone`` and
    ``neck``, with ``torch.compile`` before the run starts.

    mmengine's ``compile=True`` compiles the whole ``train_step``; for an
    mmdet 3.x detector, dynamo fails inside mmdet's heads (on
    ``InstanceData``), whatever the backbone. The backbones and mmdet's FPN
    trace as one graph each, so this hook compiles them and leaves the heads
    eager. Each module is compiled in place (``nn.Module.compile``): the
    parameters, the state dict and the checkpoints stay as they are, and a
    distributed wrapper keeps working. It runs for ``tools/train.py`` and
    ``tools/test.py`` alike; training and evaluation compile once each (a
    new input size may compile again, see docs/performance.md).

    Add it to a config (next to the hooks the config already has)::

        custom_imports = dict(imports=['mmrla.models', 'mmrla.engine'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='ExactResumeHook'),
                        dict(type='CompileBackboneHook')]

    Args:
        modules (Sequence[str]): Names of the model's submodules to compile.
            Defaults to ``('backbone', 'neck')``.
        **compile_cfg: Arguments of ``torch.compile``, e.g.
            ``backend='inductor'`` (its default) or ``mode='max-autotune'``.

    Example:
        >>> import torch.nn as nn
        >>> model = nn.Module()
        >>> model.backbone, model.neck = nn.Conv2d(3, 4, 1), nn.ReLU()
        >>> hook = CompileBackboneHook(backend='eager')
        >>> hook.compile_modules(model)
        ['backbone', 'neck']
    """

    # Before the hooks that run the model (e.g. a checkpoint is loaded
    # after before_run, into the same parameters).
    priority = 'VERY_HIGH'

    def __init__(self,
                 modules: Sequence[str] = ('backbone', 'neck'),
                 **compile_cfg) -> None:
        if isinstance(modules, str) or not modules or not all(
                isinstance(m, str) for m in modules):
            raise ValueError(
                'CompileBackboneHook: modules must be a non-empty list of '
                "submodule names, e.g. ('backbone', 'neck'), got "
                f'{modules!r}.')
        self.modules = tuple(modules)
        self.compile_cfg = compile_cfg

    def compile_modules(self, model: nn.Module) -> list:
        """Compile ``self.modules`` of ``model`` in place; return the names
        compiled now (a module compiled before is left as it is)."""
        if is_model_wrapper(model):
            model = model.module
        missing = [
            name for name in self.modules
            if not isinstance(getattr(model, name, None), nn.Module)
        ]
        if missing:
            children = [name for name, _ in model.named_children()]
            raise ValueError(
                f'CompileBackboneHook: the model has no {missing} to '
                f'compile; set modules= to some of {children}.')
        compiled = []
        for name in self.modules:
            module = getattr(model, name)
            if module._compiled_call_impl is None:
                module.compile(**self.compile_cfg)
                compiled.append(name)
        return compiled

    def before_run(self, runner) -> None:
        compiled = self.compile_modules(runner.model)
        if compiled:
            names = ', '.join(f'model.{name}' for name in compiled)
            args = ', '.join(f'{k}={v!r}' for k, v in self.compile_cfg.items())
            print_log(
                f'CompileBackboneHook: {names} compiled with '
                f'torch.compile({args}); the first iterations are slow.',
                logger='current')
