"""``type='ResNet'`` -> ``type='RLAResNet'`` is the whole change in mmdet's
configs.

The sweep reads every config that mmdet ships (``mmdet/.mim/configs``),
collects each distinct ResNet-50/101 backbone setting, and for each builds
the detector twice, with mmdet's ResNet and with RLAResNet in its place
(every other argument kept; pretrained weights dropped), then runs
``extract_feat`` on a small image. Every setting that mmdet's own ResNet
runs here must run with RLAResNet too and give features of the same shapes.
"""
import copy
import glob
import os.path as osp
from typing import Dict, List, Tuple

import mmdet
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

import mmrla.models  # noqa: F401 (registers RLAResNet)
from tests.fixtures.sizes import slow_where

CONFIG_ROOT = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
# 128x160, as a small test image; both sides divisible by 32.
IMAGE = (1, 3, 128, 160)
# mmdet 3.3.0 ships 52 distinct ResNet-50/101 settings. Its own ResNet runs
# all but three here: FPG's needs input sides divisible by 128, and two
# configs have heads with MMSyncBN, which needs a process group.
NUM_SETTINGS = 52
NOT_RUN_BY_MMDET = {
    'fpg/faster-rcnn_r50_fpg-chn128_crop640-50e_coco.py',
    'simple_copy_paste/mask-rcnn_r50_fpn_rpn-2conv_4conv1fc_syncbn-all_'
    '32xb2-ssj-270k_coco.py',
    'strong_baselines/mask-rcnn_r50-caffe_fpn_rpn-2conv_4conv1fc_syncbn-all_'
    'amp-lsj-100e_coco.py',
}


def _plain(value):
    """``value`` with ConfigDicts as dicts and lists as tuples, for
    comparing settings."""
    if isinstance(value, (dict, ConfigDict)):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _resnet_backbones(node, path=()):
    """``(path, backbone dict)`` of every ResNet-50/101 in a model config."""
    if isinstance(node, (dict, ConfigDict)):
        if node.get('type') == 'ResNet' and node.get('depth') in (50, 101):
            yield path, node
        for key, value in node.items():
            yield from _resnet_backbones(value, path + (key, ))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _resnet_backbones(value, path + (i, ))


def resnet_settings() -> Dict[str, Tuple[str, tuple]]:
    """Each distinct ResNet-50/101 backbone setting (pretrained weights
    aside) of mmdet's shipped configs, with the first config that uses it
    and the backbone's path in its model."""
    settings = {}
    for path in sorted(
            glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)):
        if '_base_' in path:
            continue
        try:
            model = Config.fromfile(path).get('model')
        except Exception:  # a config mmdet itself cannot parse here
            continue
        for where, backbone in _resnet_backbones(model):
            setting = {
                k: v
                for k, v in _plain(backbone).items()
                if k not in ('init_cfg', 'pretrained')
            }
            settings.setdefault(repr(sorted(setting.items())), (path, where))
    return settings


def _swap(model_cfg, where, backbone_type):
    cfg = copy.deepcopy(model_cfg)
    node = cfg
    for key in where:
        node = node[key]
    node['type'] = backbone_type
    node.pop('init_cfg', None)
    node.pop('pretrained', None)
    return cfg


def _owner(model, backbone_type):
    """The module that owns the swapped backbone and extracts features."""
    for m in model.modules():
        backbone = getattr(m, 'backbone', None)
        if type(backbone).__name__ == backbone_type and \
                hasattr(m, 'extract_feat'):
            return m
    raise AssertionError(f'no module runs the {backbone_type} backbone')


def _features(config: str, where: tuple, backbone_type: str) -> List[tuple]:
    """Build the detector of ``config`` with ``backbone_type`` at
    ``where`` and return the shapes of its ``extract_feat`` output."""
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(config)
    model = MODELS.build(_swap(cfg.model, where, backbone_type))
    owner = _owner(model, backbone_type)
    torch.manual_seed(0)
    with torch.no_grad():
        feats = owner.extract_feat(torch.rand(*IMAGE))
    if isinstance(feats, torch.Tensor):
        feats = [feats]
    return [tuple(f.shape) for f in feats]


@pytest.mark.slow
def test_every_mmdet_resnet_setting_runs_with_rlaresnet():
    settings = resnet_settings()
    assert len(settings) == NUM_SETTINGS
    not_run_by_mmdet, failures = set(), []
    for config, where in settings.values():
        name = osp.relpath(config, CONFIG_ROOT)
        try:
            expected = _features(config, where, 'ResNet')
        except Exception:
            not_run_by_mmdet.add(name)
            continue
        try:
            shapes = _features(config, where, 'RLAResNet')
        except Exception as e:  # collect them all, then report
            failures.append(f'{name}: {type(e).__name__}: {e}')
            continue
        if shapes != expected:
            failures.append(f'{name}: {shapes} != {expected}')
    assert not_run_by_mmdet == NOT_RUN_BY_MMDET
    assert failures == [], '\n'.join(failures)


# One config of each kind of setting: caffe style with frozen norms, DCNv2,
# GCNet plugins (these three in the quick run too), then the attention
# plugins, the dilated C5 of DC5, the three-stage C4 backbone,
# weight-standardized convs with GN, and YOLOF's single C5.
REPRESENTATIVE = (
    'faster_rcnn/faster-rcnn_r50-caffe_fpn_1x_coco.py',
    'dcnv2/faster-rcnn_r50-mdconv-c3-c5_fpn_1x_coco.py',
    'gcnet/mask-rcnn_r50-gcb-r4-c3-c5_fpn_1x_coco.py',
    'empirical_attention/faster-rcnn_r50-attn0010-dcn_fpn_1x_coco.py',
    'faster_rcnn/faster-rcnn_r50-caffe-dc5_1x_coco.py',
    'faster_rcnn/faster-rcnn_r50-caffe-c4_ms-1x_coco.py',
    'gn+ws/faster-rcnn_r50_fpn_gn-ws-all_1x_coco.py',
    'yolof/yolof_r50-c5_8xb8-1x_coco.py',
)


@pytest.mark.parametrize('config',
                         slow_where(REPRESENTATIVE, REPRESENTATIVE[3:]))
def test_representative_backbones_match_mmdet_resnet(config):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    backbone = Config.fromfile(osp.join(CONFIG_ROOT, config)).model.backbone
    backbone.pop('init_cfg', None)
    x = torch.rand(*IMAGE)
    shapes = {}
    for backbone_type in ('ResNet', 'RLAResNet'):
        model = MODELS.build(dict(backbone, type=backbone_type))
        model.train()  # mmdet's ResNet.train returns None
        outs = model(x)
        shapes[backbone_type] = [tuple(o.shape) for o in outs]
    assert shapes['RLAResNet'] == shapes['ResNet']
    # Every trainable parameter learns, as DDP needs.
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)
