"""configs/cifar/densenet/: DenseNet-BC 100 and its Shared-Lag and
Shared-Ordinal simplifications (RLA-Net Table 1) build, classify and have
the counts that get_flops prints for the README."""
import functools
import glob
import os.path as osp

import pytest
import torch

from mmrla.cli import build_model_without_weights, load_config
from tests.fixtures.console import REPO

FOLDER = osp.join(REPO, 'configs', 'cifar', 'densenet')
# name: (aggregation, our parameter count); Table 1: 0.80M, 0.60M, 0.60M.
CONFIGS = {
    'densenet-bc100_b128_cifar10': ('dense', 769_162),
    'densenet-bc100-shared-lag_b128_cifar10': ('shared_lag', 587_722),
    'densenet-bc100-shared-ordinal_b128_cifar10': ('shared_ordinal', 587_722),
}


@functools.lru_cache(maxsize=None)
def _cfg(name):
    return load_config(osp.join(FOLDER, name + '.py'))


def test_the_agreed_names_exist():
    found = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(FOLDER, '*.py'))
    }
    assert found == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config(name):
    cfg = _cfg(name)
    assert 'mmrla.models' in cfg.custom_imports.imports
    backbone = cfg.model.backbone
    assert backbone.type == 'LayerAggregationDenseNet'
    assert (backbone.depth, backbone.growth_rate) == (100, 12)
    assert backbone.aggregation == CONFIGS[name][0]
    assert cfg.model.head.num_classes == 10
    assert cfg.model.head.in_channels == 342
    # "the same as other experiments on CIFAR-10": the shared recipe.
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.optim_wrapper.optimizer.nesterov is True
    assert cfg.train_dataloader.batch_size == 128


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds_and_classifies(name):
    from tools.analysis_tools.get_flops import count
    cfg = _cfg(name)
    model = build_model_without_weights(cfg, init_weights=True).eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    # What `python tools/analysis_tools/get_flops.py <config> --shape 32`
    # prints (the README's command).
    result = count(cfg, [32])
    assert result['params'] == CONFIGS[name][1]
    # The shared convs count at every layer that applies them: same FLOPs.
    assert result['flops'] == pytest.approx(0.29e9, rel=0.05)
