"""The twelve COCO detection configs: settings and model builds."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

from mmrla.models import ECALayer, RLAResNet
from tests.fixtures.det_configs import BACKBONES, FAMILIES, REPO, config_path

register_all_modules(init_default_scope=False)

ALL = [(f, b) for f in FAMILIES for b in BACKBONES]
CHECKPOINTS = {
    'r50rla': 'checkpoints/rla_resnet50_in1k.pth',
    'r50rlaeca': 'checkpoints/rla_ecaresnet50_in1k.pth',
    'r101rla': 'checkpoints/rla_resnet101_in1k.pth',
    'r101rlaeca': 'checkpoints/rla_ecaresnet101_in1k.pth',
}
DETECTORS = {
    'faster_rcnn': 'FasterRCNN',
    'mask_rcnn': 'MaskRCNN',
    'retinanet': 'RetinaNet'
}


def _transform(pipeline, name):
    return next(t for t in pipeline if t['type'] == name)


@pytest.mark.parametrize('family,backbone', ALL)
def test_config_settings(family, backbone):
    cfg = Config.fromfile(config_path(family, backbone))
    assert cfg.custom_imports == dict(
        imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)
    # From configs/_base_/default_runtime_rla.py.
    assert cfg.custom_hooks == [dict(type='ExactResumeHook')]
    assert cfg.default_scope == 'mmdet'
    assert cfg.model.type == DETECTORS[family]

    bb = cfg.model.backbone
    assert bb.type == 'RLAResNet'
    assert bb.depth == (101 if backbone.startswith('r101') else 50)
    assert bb.get('eca_kernel_sizes') == ((5, 5, 5, 7) if
                                          backbone.endswith('eca') else None)
    assert bb.out_indices == (0, 1, 2, 3) and bb.concat_hidden is False
    assert bb.frozen_stages == 1 and bb.norm_eval is True
    assert bb.rla_channel == 32
    # No leftovers of mmdet's ResNet (style, num_stages, ...).
    assert 'style' not in bb
    assert bb.init_cfg == dict(
        type='Pretrained',
        checkpoint=CHECKPOINTS[backbone],
        prefix='backbone.')
    assert cfg.model.neck.in_channels == [256, 512, 1024, 2048]

    # The paper's 1x schedule, batch 8 = 4 GPUs x 2 images.
    assert cfg.train_cfg.max_epochs == 12
    multistep = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert multistep[0].milestones == [8, 11] and multistep[0].gamma == 0.1
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.01, 0.9, 0.0001)
    assert cfg.auto_scale_lr.base_batch_size == 8
    assert cfg.train_dataloader.batch_size == 2
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        resize = _transform(loader.dataset.pipeline, 'Resize')
        assert resize.scale == (1333, 800) and resize.keep_ratio

    metrics = ['bbox', 'segm'] if family == 'mask_rcnn' else 'bbox'
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'CocoMetric'
        assert evaluator.metric == metrics
    with_mask = _transform(cfg.train_dataloader.dataset.pipeline,
                           'LoadAnnotations').get('with_mask', False)
    assert with_mask == (family == 'mask_rcnn')


@pytest.mark.parametrize('family,backbone', ALL)
def test_config_builds(family, backbone):
    cfg = Config.fromfile(config_path(family, backbone))
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == DETECTORS[family]
    bb = model.backbone
    assert isinstance(bb, RLAResNet)
    assert bb.out_channels == (256, 512, 1024, 2048)
    assert len(bb.layer3) == (23 if backbone.startswith('r101') else 6)
    eca = [m for m in bb.modules() if isinstance(m, ECALayer)]
    assert len(eca) == (
        sum(bb.stage_blocks) if backbone.endswith('eca') else 0)
    # frozen_stages=1: the stem, stage 1 and stage 1's shared RLA convs.
    frozen = [
        bb.conv1, bb.norm1, bb.layer1, bb.rla_out_convs[0],
        bb.rla_recurrent_convs[0]
    ]
    for module in frozen:
        assert not any(p.requires_grad for p in module.parameters())
    assert all(p.requires_grad for p in bb.layer2.parameters())
    model.train()
    assert not any(m.training for m in bb.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))  # norm_eval


def test_missing_pretrained_file_explains_the_fix(tmp_path, monkeypatch):
    # Relative checkpoint paths resolve against the working directory.
    monkeypatch.chdir(tmp_path)
    from mmrla.errors import UserError
    from mmrla.weights import check_pretrained_weights
    cfg = Config.fromfile(config_path('faster_rcnn', 'r101rla'))
    with pytest.raises(UserError) as info:
        check_pretrained_weights(cfg)
    message = str(info.value)
    assert 'checkpoints/rla_resnet101_in1k.pth' in message
    # It names the authors' file that matches this config.
    assert 'rlanet_to_mmrla.py resnet101_rla_2148.pth.tar' in message
    assert 'model.backbone.init_cfg=None' in message


def test_train_tool_reports_missing_weights_without_traceback(
        tmp_path, monkeypatch, capsys):
    from tools.train import main
    monkeypatch.chdir(tmp_path)
    code = main([
        config_path('mask_rcnn', 'r50rlaeca'), '--work-dir',
        str(tmp_path / 'wd')
    ])
    assert code == 2
    err = capsys.readouterr().err
    assert ('error: Pretrained backbone weights '
            '"checkpoints/rla_ecaresnet50_in1k.pth" not found') in err
    assert 'ecanet50_rla_2215.pth.tar' in err
    assert not (tmp_path / 'wd').exists()  # failed before the Runner


def test_missing_evaluator_annotations_are_explained(tmp_path, monkeypatch,
                                                     capsys):
    from tools.train import main
    data = tmp_path / 'coco'
    for sub in ('annotations', 'train2017', 'val2017'):
        (data / sub).mkdir(parents=True)
    for split in ('train', 'val'):
        (data / 'annotations' / f'instances_{split}2017.json').write_text('{}')
    code = main([
        config_path('faster_rcnn', 'r50rla'), '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options', 'model.backbone.init_cfg=None',
        f'train_dataloader.dataset.data_root={data}/',
        f'val_dataloader.dataset.data_root={data}/'
    ])
    assert code == 2
    err = capsys.readouterr().err
    assert "val evaluator's ann_file" in err
    assert '--cfg-options val_evaluator.ann_file=' in err


def test_docs_list_every_detection_config():
    with open(osp.join(REPO, 'docs', 'detection.md')) as f:
        page = f.read()
    section = page.split("## Results (the paper's)")[1].split('\n## ')[0]
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    zoo = readme.split('## Model zoo')[1].split('\n## ')[0]
    for family, backbone in ALL:
        config = f'configs/{family}_{backbone}_fpn_1x_coco.py'
        assert f'`{config}`' in section
        assert f'({config})' in zoo
    assert 'the paper\'s' in section  # the AP numbers are marked as such


def test_metafile_lists_every_released_detector():
    import yaml

    from mmrla.converters import RELEASED_CHECKPOINTS
    with open(osp.join(REPO, 'configs', 'rla_detection', 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    detectors = {
        m['Config']: m
        for m in models if m['Results'][0]['Task'] == 'Object Detection'
    }
    assert len(detectors) == len(ALL) == 12
    for name, released in RELEASED_CHECKPOINTS.items():
        if '_coco_' not in name:
            continue
        model = detectors[released.config]
        # The released name ends with the box AP x 10 (38.8 -> 388); the
        # paper's RetinaNet RLA-ECA-ResNet-50 says 38.9 for the release's
        # 39.0.
        box_ap = model['Results'][0]['Metrics']['box AP']
        assert abs(box_ap * 10 - int(name.rsplit('_', 1)[1])) <= 1, name
        assert model['Converted From']['Weights'].startswith(name + ' ')
        tasks = [r['Task'] for r in model['Results']]
        assert ('Instance Segmentation' in tasks) == name.startswith('mask')
