"""Every classification config builds, follows the paper's recipe and has
the parameter count of the paper's Table 3."""
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config

from tests.fixtures.sizes import slow_if_deep

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config: (exact parameter count, the paper's Table 3 figure in 2**20 units).
# ECA adds one kernel (5, or 7 in the last stage) per block: R101 +171,
# R152 +256.
PARAMS = {
    'r50rla_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rlaeca_4xb64_in1k.py': (25_870_782, 24.67),
    'r101rla_4xb64_in1k.py': (45_003_176, 42.92),
    'r101rlaeca_4xb64_in1k.py': (45_003_347, 42.92),
    'r152rla_4xb64_in1k.py': (60_770_792, 57.96),
    'r152rlaeca_4xb64_in1k.py': (60_771_048, 57.96),
    'mobilenetv2rla_2xb48_in1k.py': (3_624_168, 3.46),
    'mobilenetv2rlaeca_2xb48_in1k.py': (3_624_199, 3.46),
}


def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', name))


def _optimizer(cfg):
    # mmpretrain:: bases tag their entries with their registry scope.
    return {
        k: v
        for k, v in cfg.optim_wrapper.optimizer.items() if k != '_scope_'
    }


@pytest.mark.parametrize('name', slow_if_deep(sorted(PARAMS)))
def test_config_builds_with_the_papers_param_count(name):
    from mmpretrain.registry import MODELS
    cfg = _cfg(name)
    assert cfg.custom_imports == dict(
        imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)
    # From configs/_base_/default_runtime_rla.py.
    assert cfg.custom_hooks == [dict(type='ExactResumeHook')]
    model = MODELS.build(cfg.model)
    count = sum(p.numel() for p in model.parameters())
    expected, paper = PARAMS[name]
    assert count == expected
    assert round(count / 2**20, 2) == paper
    head = model.head
    assert isinstance(head.fc, nn.Linear) and head.fc.out_features == 1000
    if 'eca' in name:
        assert any(m.__class__.__name__ == 'ECALayer' for m in model.modules())


@pytest.mark.parametrize('name', [n for n in sorted(PARAMS) if n[0] == 'r'])
def test_resnet_recipe(name):
    cfg = _cfg(name)
    assert _optimizer(cfg) == dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
    assert cfg.param_scheduler.type == 'MultiStepLR'
    assert cfg.param_scheduler.milestones == [30, 60, 90]
    assert cfg.param_scheduler.gamma == 0.1
    assert cfg.train_cfg.max_epochs == 120
    # 4 GPUs x 64 = 256 images, the reference batch for auto_scale_lr.
    assert cfg.train_dataloader.batch_size * 4 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    init = cfg.model.backbone.get('init_cfg')
    assert init is None  # RLAResNet's default: Kaiming for convs
    depth = int(name[1:name.index('rla')])
    assert cfg.model.backbone.depth == depth
    if 'eca' in name:
        assert cfg.model.backbone.eca_kernel_sizes == (5, 5, 5, 7)


@pytest.mark.parametrize('name', [n for n in sorted(PARAMS) if n[0] == 'm'])
def test_mobilenet_v2_recipe(name):
    cfg = _cfg(name)
    assert _optimizer(cfg) == dict(
        type='SGD', lr=0.045, momentum=0.9, weight_decay=4e-5)
    assert cfg.param_scheduler.type == 'StepLR'
    assert (cfg.param_scheduler.step_size, cfg.param_scheduler.gamma,
            cfg.param_scheduler.by_epoch) == (1, 0.98, True)
    assert cfg.train_cfg.max_epochs == 400
    assert cfg.train_dataloader.batch_size * 2 == 96
    assert cfg.auto_scale_lr.base_batch_size == 96
    assert cfg.model.head.type == 'DropoutLinearClsHead'
    assert cfg.model.head.dropout_rate == 0.2
    if 'eca' in name:
        assert cfg.model.backbone.eca_kernel_sizes == (1, 1, 1, 1, 3, 3, 3)


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_standard_imagenet_pipelines(name):
    cfg = _cfg(name)
    assert cfg.default_scope == 'mmpretrain'
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert train == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs'
    ]
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 224
    val = cfg.val_dataloader.dataset.pipeline
    assert (val[1].type, val[1].scale, val[1].edge) == ('ResizeEdge', 256,
                                                        'short')
    assert (val[2].type, val[2].crop_size) == ('CenterCrop', 224)
    assert (cfg.val_evaluator.type, cfg.val_evaluator.topk) == ('Accuracy',
                                                                (1, 5))
    assert cfg.train_dataloader.dataset.type == 'ImageNet'


def test_metafile_lists_every_config_with_its_params():
    import yaml
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    models = []
    for metafile in index['Import']:
        with open(osp.join(REPO, metafile)) as f:
            models += yaml.safe_load(f)['Models']
    by_config = {
        osp.basename(m['Config']): m
        for m in models if m['Results'][0]['Task'] == 'Image Classification'
    }
    assert set(by_config) == set(PARAMS)
    for name, model in by_config.items():
        assert osp.isfile(osp.join(REPO, model['Config']))
        assert model['Metadata']['Parameters'] == PARAMS[name][0]
        metrics = model['Results'][0]['Metrics']
        assert 70 < metrics['Top 1 Accuracy'] < metrics['Top 5 Accuracy']
