"""Check the files a training run starts from before the runner loads them.

mmengine loads ``load_from``, ``--resume`` files and ``init_cfg`` weights
non-strictly, so a file of another model leaves the model mostly random
with a warning that lists every key, and a damaged file ends in a
traceback from deep inside torch. ``tools/train.py`` reads the files first
(memory-mapped: keys and shapes only) and stops with one line instead.
"""
import os.path as osp
from typing import Iterator, Tuple

import torch.nn as nn
from mmengine.config import Config

from mmrla.converters import (describe_state_dict, read_state_dict,
                              strip_module_prefix)
from mmrla.engine.safe_load import CheckpointLoadError
from .checkpoint import checkpoint_mismatch
from .errors import UserError


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
