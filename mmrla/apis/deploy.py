"""Whole-model export with mmdeploy: the deploy config of a model's task and
the export itself, shared by ``tools/deployment/deploy.py`` and the
benchmark's deployed mode.

mmdeploy is optional (``pip install -r requirements/deploy.txt``); it is
imported only by the functions that need it.
"""
import os.path as osp
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config

from mmrla.errors import UserError
from .model_index import model_index_root

INSTALL = 'pip install -r requirements/deploy.txt'
BACKENDS = ('onnxruntime', 'tensorrt')
# The deploy config of each task and backend, under configs/deploy/.
DEPLOY_CFG_NAMES = {
    ('detection', 'onnxruntime'):
    'detection_onnxruntime_dynamic.py',
    ('instance-seg', 'onnxruntime'):
    'instance-seg_onnxruntime_dynamic.py',
    ('classification', 'onnxruntime'):
    'classification_onnxruntime_dynamic.py',
    ('detection', 'tensorrt'):
    'detection_tensorrt-fp16_dynamic-320x320-1344x1344.py',
    ('instance-seg', 'tensorrt'):
    'instance-seg_tensorrt-fp16_dynamic-320x320-1344x1344.py',
    ('classification', 'tensorrt'):
    'classification_tensorrt-fp16_dynamic-224x224-224x224.py',
}


def import_mmdeploy():
    """Import mmdeploy, or raise one line saying how to install it.

    Raises:
        UserError: If mmdeploy (or a package it needs) is not installed.
    """
    try:
        import mmdeploy
        from mmdeploy.apis import build_task_processor  # noqa: F401
    except ImportError as e:
        raise UserError(f'mmdeploy is not installed ({e}); install it and '
                        f'its ONNX Runtime backend with: {INSTALL}') from e
    return mmdeploy


def model_task(cfg: Config) -> str:
    """The deploy task of a model config.

    Returns:
        str: ``'instance-seg'`` for an mmdet model with a mask head,
        ``'detection'`` for another mmdet model, ``'classification'``
        otherwise.
    """
    if cfg.get('default_scope') != 'mmdet':
        return 'classification'
    roi_head = cfg.model.get('roi_head') or {}
    return 'instance-seg' if roi_head.get('mask_head') else 'detection'


def deploy_config_path(task: str, backend: str = 'onnxruntime') -> str:
    """``configs/deploy/`` file for ``task`` (:func:`model_task`) and
    ``backend``."""
    return osp.join(model_index_root(), 'configs', 'deploy',
                    DEPLOY_CFG_NAMES[(task, backend)])


def export_end2end(model: nn.Module, inputs: torch.Tensor,
                   data_samples: Optional[Sequence], deploy_cfg: Config,
                   output_prefix: str) -> str:
    """Export ``model`` whole with mmdeploy's rewriters (``predict`` mode:
    for a detector, boxes after NMS), as mmdeploy's ``torch2onnx`` does.

    Args:
        model (nn.Module): An mmdet detector or mmpretrain classifier, in
            eval mode.
        inputs (Tensor): Normalized images (N, 3, H, W) to trace with.
        data_samples (Sequence, optional): Their data samples (a detector
            reads ``img_shape`` and ``batch_input_shape``).
        deploy_cfg (Config): An mmdeploy deploy config
            (``configs/deploy/``).
        output_prefix (str): Path of the file without ``.onnx``.

    Returns:
        str: The ``.onnx`` file.
    """
    import_mmdeploy()
    from mmdeploy.apis.onnx import export
    from mmdeploy.codebase import import_codebase
    from mmdeploy.utils import (get_backend, get_codebase, get_dynamic_axes,
                                get_onnx_config)

    # mmdeploy's rewriters of the codebase (mmdet, mmpretrain), then ours.
    import_codebase(get_codebase(deploy_cfg))
    from . import deploy_rewriters  # noqa: F401
    onnx_cfg = get_onnx_config(deploy_cfg)
    names = onnx_cfg['input_names'] + onnx_cfg['output_names']
    export(
        model,
        inputs,
        input_metas=dict(data_samples=data_samples, mode='predict'),
        output_path_prefix=output_prefix,
        backend=get_backend(deploy_cfg).value,
        input_names=onnx_cfg['input_names'],
        output_names=onnx_cfg['output_names'],
        context_info=dict(deploy_cfg=deploy_cfg),
        opset_version=onnx_cfg.get('opset_version', 11),
        dynamic_axes=get_dynamic_axes(deploy_cfg, names),
        verbose=False,
        keep_initializers_as_inputs=onnx_cfg.get('keep_initializers_as_inputs',
                                                 False),
        optimize=onnx_cfg.get('optimize', False))
    return output_prefix + '.onnx'
