"""Every config of configs/layer_attention/ builds, follows the paper's
recipe, and carries the options its name says."""
import functools
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmrla.cli import load_config
from tests.fixtures.sizes import slow_where
from tools.analysis_tools.get_flops import count_params
from tools.analysis_tools.paper_tables import FAMILIES

PAPER = FAMILIES['layer-attention'].rows

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.splitext(osp.basename(p))[0]
    for p in glob.glob(osp.join(REPO, 'configs', 'layer_attention', '*.py')))
CIFAR = [c for c in CONFIGS if 'cifar' in c]
IMAGENET = [c for c in CONFIGS if c.endswith('in1k')]
COCO = [c for c in CONFIGS if c.endswith('coco2014')]


@functools.lru_cache(maxsize=None)
def _cfg(name):
    # Parsing resolves mmpretrain::/mmdet:: bases (about 1 s each): once.
    return Config.fromfile(
        osp.join(REPO, 'configs', 'layer_attention', name + '.py'))


def test_the_issue_names_exist():
    expected = {
        f'{kind}{d}_b128_{ds}'
        for kind in ('resnet', 'se-resnet', 'la-resnet')
        for d in (20, 32, 44, 56, 110)
        for ds in ('cifar10', 'cifar100')
    }
    expected |= {
        f'la-resnet56-{v}_b128_{ds}'
        for v in ('vector', 'ia', 'gmp', 'gap-mlp', 'gmp-mlp', 'm2', 'm4',
                  'm8', 'm16', 'r2', 'r4', 'r8', 'r16', 'vector-m4')
        for ds in ('cifar10', 'cifar100')
    }
    expected |= {
        f'{kind}{d}_4xb64_in1k'
        for kind in ('resnet', 'se-resnet', 'la-resnet')
        for d in (18, 50, 101)
    }
    expected |= {
        f'faster-rcnn_{kind}{d}_coco2014'
        for kind in ('r', 'la-r')
        for d in (50, 101)
    }
    assert set(CONFIGS) == expected
    # The table tool knows the paper's figures of every config.
    assert set(PAPER) == expected


def _backbone_options(name):
    """What the config name promises about the backbone."""
    m = re.match(r'(resnet|se-resnet|la-resnet)(\d+)(-[a-z0-9-]+)?_', name)
    kind, depth, variant = m.group(1), int(m.group(2)), m.group(3)
    options = dict(depth=depth)
    if kind != 'la-resnet':
        options['layer_attention'] = False
        options['se_ratio'] = 16 if kind == 'se-resnet' else None
        return options
    options.update({
        None: {},
        '-vector': dict(vector=True, hidden_size=32, ratio=16),
        '-vector-m4': dict(vector=True, hidden_size=4, ratio=1),
        '-ia': dict(se_ratio=16),
        '-gmp': dict(context='gmp'),
        '-gap-mlp': dict(context='gap_mlp'),
        '-gmp-mlp': dict(context='gmp_mlp'),
    }.get(variant, {}))
    if variant and variant[1] == 'm' and 'vector' not in variant:
        options.update(hidden_size=int(variant[2:]), ratio=1)
    if variant and variant[1] == 'r':
        options.update(hidden_size=16, ratio=int(variant[2:]))
    return options


@pytest.mark.parametrize('name', CONFIGS)
def test_config_resumes_exactly(name):
    # From configs/_base_/default_runtime_rla.py, through the shared bases.
    cfg = _cfg(name)
    assert cfg.custom_hooks == [dict(type='ExactResumeHook')]
    assert 'mmrla.engine' in cfg.custom_imports['imports']


@pytest.mark.parametrize('name', CIFAR)
def test_cifar_config(name):
    cfg = _cfg(name)
    assert cfg.custom_imports == dict(
        imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)
    backbone = cfg.model.backbone
    assert backbone.type == 'LayerAttentionResNet'
    for key, value in _backbone_options(name).items():
        assert backbone.get(key) == value, key
    classes = 100 if name.endswith('cifar100') else 10
    assert cfg.model.head.num_classes == classes
    assert cfg.model.head.in_channels == 64
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        assert loader.batch_size == 128
        assert loader.dataset.type == f'CIFAR{classes}'
        assert loader.dataset.data_root.rstrip('/') == f'data/cifar{classes}'
        # Nothing downloads at run time.
        assert loader.dataset.download is False
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline
            ] == ['RandomCrop', 'RandomFlip', 'PackInputs']
    assert cfg.train_dataloader.dataset.pipeline[0].padding == 4
    optimizer = {
        k: v
        for k, v in cfg.optim_wrapper.optimizer.items() if k != '_scope_'
    }
    assert optimizer == dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
    assert cfg.param_scheduler.milestones == [80, 120]
    assert cfg.param_scheduler.gamma == 0.1
    assert cfg.train_cfg.max_epochs == 160


@pytest.mark.parametrize('name', IMAGENET)
def test_imagenet_config(name):
    cfg = _cfg(name)
    assert cfg.custom_imports.imports == ['mmrla.models', 'mmrla.engine']
    depth = int(re.search(r'resnet(\d+)', name).group(1))
    backbone = cfg.model.backbone
    if not name.startswith('resnet'):  # mmpretrain's ResNet for those
        for key, value in _backbone_options(name).items():
            assert backbone.get(key) == value, key
    assert backbone.type == ('ResNet' if name.startswith('resnet') else
                             'LayerAttentionResNet')
    assert cfg.model.head.in_channels == (512 if depth == 18 else 2048)
    assert cfg.train_dataloader.batch_size * 4 == 256
    assert cfg.optim_wrapper.optimizer.nesterov is True
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.param_scheduler.milestones == [30, 60, 90]
    assert cfg.train_cfg.max_epochs == 100


@pytest.mark.parametrize('name', COCO)
def test_coco2014_config(name):
    cfg = _cfg(name)
    assert cfg.custom_imports.imports == ['mmrla.models', 'mmrla.engine']
    depth = int(re.search(r'r(\d+)_', name).group(1))
    backbone = cfg.model.backbone
    assert backbone.depth == depth
    assert backbone.out_indices == (0, 1, 2, 3)
    assert backbone.type == ('LayerAttentionResNet'
                             if '_la-' in name else 'ResNet')
    assert cfg.model.type == 'FasterRCNN'
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert train.ann_file == 'annotations/instances_train2014.json'
    assert train.data_prefix.img == 'train2014/'
    assert val.ann_file == 'annotations/instances_val2014.json'
    assert cfg.test_dataloader.dataset.ann_file == val.ann_file
    assert cfg.val_evaluator.ann_file.endswith('instances_val2014.json')
    assert cfg.val_evaluator.type == 'CocoMetric'
    assert cfg.train_cfg.max_epochs == 12
    # ImageNet weights of this repo's runs, with the same recipe for both.
    prefix = 'la-resnet' if '_la-' in name else 'resnet'
    assert backbone.init_cfg.checkpoint == \
        f'work_dirs/{prefix}{depth}_4xb64_in1k/epoch_100.pth'


# Building is cheap except for the two largest ImageNet models, whose counts
# tests/test_models/test_backbones/test_layer_attention_resnet.py checks.
# The CIFAR-100 models (CIFAR-10's with 100 classes) in the full run only.
@pytest.mark.parametrize(
    'name',
    slow_where([c for c in CONFIGS if not re.search(r'resnet(50|101)_4xb', c)],
               lambda name: name.endswith('cifar100')))
def test_config_builds(name):
    count = count_params(
        load_config(
            osp.join(REPO, 'configs', 'layer_attention', name + '.py')))
    paper = PAPER[name].params
    if paper is not None and 'cifar10' in name and 'cifar100' not in name:
        # The paper's CIFAR counts scatter around those of any one
        # architecture (see the backbone tests): SE-20 is printed 0.278M
        # although ResNet-20 is 0.275M and SE adds 0.86% by the paper's own
        # account (0.277M); ours: 274,847, 1.1% below. All are within 1.5%.
        assert count == pytest.approx(paper * 1e6, rel=0.015)
    elif paper is not None and name.endswith('in1k'):
        # Rounded or truncated, as the backbone tests explain.
        assert count / 1e6 == pytest.approx(paper, abs=0.01)
