"""Distributed training on machines without GPUs (gloo + CPU DDP).

mmengine's pytorch launcher calls ``torch.cuda.set_device`` and wraps the
model with ``device_ids=[LOCAL_RANK]``; both fail when there is no GPU. On
such machines :func:`setup_cpu_distributed` starts the gloo process group
itself (so mmengine skips its own ``init_dist``) and selects
:class:`MMRLADistributedDataParallel`, which drops ``device_ids`` for CPU
modules. On GPU machines it changes nothing.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from mmrla.errors import UserError


@MODEL_WRAPPERS.register_module()
class MMRLADistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that also wraps CPU modules.

    DDP requires ``device_ids=None`` for CPU modules; mmengine always passes
    the local rank. Everything else is unchanged.
    """

    def __init__(self,
                 module,
                 detect_anomalous_params: bool = False,
                 **kwargs) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        super().__init__(
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare a CPU-only distributed run; a no-op with GPUs or no launcher.

    Args:
        cfg (Config): The runner config; its ``env_cfg.dist_cfg`` backend and
            ``model_wrapper_cfg`` are updated in place.
        launcher (str): The job launcher (``'none'``, ``'pytorch'``, ...).

    Returns:
        bool: Whether a CPU (gloo) process group is in use.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise UserError(
            f'Distributed runs without GPUs support only --launcher pytorch '
            f'(tools/dist_train.sh, torchrun), not {launcher!r}.')
    missing = [k for k in ('RANK', 'WORLD_SIZE') if k not in os.environ]
    if missing:
        raise UserError(
            f'--launcher pytorch needs {" and ".join(missing)} in the '
            'environment; start the processes with tools/dist_train.sh '
            '(torchrun) rather than plain python.')
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    # Config.setdefault would return a detached dict for a missing key.
    if cfg.get('env_cfg') is None:
        cfg.env_cfg = {}
    if cfg.env_cfg.get('dist_cfg') is None:
        cfg.env_cfg.dist_cfg = {}
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get(
            'type',
            'MMDistributedDataParallel') in ('MMDistributedDataParallel',
                                             MMDistributedDataParallel):
        wrapper['type'] = 'MMRLADistributedDataParallel'
    # mmengine reads these only when no model_wrapper_cfg is given.
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True
