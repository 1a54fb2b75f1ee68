import os.path as osp

import pytest
from mmengine.config import Config

from mmrla.cli import build_model_without_weights, drop_pretrained_init

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_drop_pretrained_init_at_any_depth_keeps_other_inits():
    pretrained = dict(type='Pretrained', checkpoint='x.pth')
    kaiming = dict(type='Kaiming', layer='Conv2d')
    cfg = Config(
        dict(
            model=dict(
                init_cfg=pretrained,
                backbone=dict(init_cfg=[pretrained, kaiming]),
                neck=dict(init_cfg=[pretrained]),
                head=dict(init_cfg=kaiming),
                out_indices=(0, 1))))
    out = drop_pretrained_init(cfg.model)
    assert out.init_cfg is None
    assert out.backbone.init_cfg == [kaiming]
    assert out.neck.init_cfg is None
    assert out.head.init_cfg == kaiming
    assert out.out_indices == (0, 1)
    # A copy: the config keeps its checkpoints.
    assert cfg.model.backbone.init_cfg[0] == pretrained


def test_detector_builds_in_its_scope_without_the_checkpoint(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # checkpoints/... does not exist here
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'retinanet_r50rla_fpn_1x_coco.py'))
    cfg.model.backbone.depth = 18  # small and fast; the FPN adapts below
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    model = build_model_without_weights(cfg)
    assert type(model).__module__.startswith('mmdet.')
    assert type(model.backbone).__name__ == 'RLAResNet'
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    # Built as the config says, the backbone would need the file.
    from mmrla.models import RLAResNet
    backbone = cfg.model.backbone.to_dict()
    backbone.pop('type')
    with pytest.raises(FileNotFoundError, match='rla_resnet50_in1k.pth'):
        RLAResNet(**backbone).init_weights()


def test_package_model_file_without_scope_builds_in_mmpretrain():
    cfg = Config.fromstring("_base_ = 'mmpretrain::_base_/models/resnet18.py'",
                            '.py')
    assert 'default_scope' not in cfg
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint='missing.pth')
    model = build_model_without_weights(cfg, init_weights=True)
    assert type(model).__name__ == 'ImageClassifier'
    assert type(model).__module__.startswith('mmpretrain.')
