"""The CIFAR Xception configs (configs/cifar/xception*) build the paper's
models (Table 2) on the CIFAR recipe and classify a 32x32 batch."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmrla.cli import build_model_without_weights

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config: (classes, exact parameter count, the paper's Table 2 figure in
# units of 10**6: 2.70M / 2.75M, RLA +0.07M / +0.06M).
PARAMS = {
    'xception_b128_cifar10': (10, 2_701_882, 2.70),
    'xceptionrla_b128_cifar10': (10, 2_764_010, 2.70 + 0.07),
    'xception_b128_cifar100': (100, 2_748_052, 2.75),
    'xceptionrla_b128_cifar100': (100, 2_811_620, 2.75 + 0.06),
}


def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'cifar', name + '.py'))


def test_the_agreed_names_exist():
    found = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(REPO, 'configs', 'cifar', 'xception*'))
    }
    assert found == set(PARAMS)


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_config_builds_and_classifies_a_cifar_batch(name):
    cfg = _cfg(name)
    classes, expected, paper = PARAMS[name]
    assert cfg.custom_imports.allow_failed_imports is False
    assert 'mmrla.models' in cfg.custom_imports.imports
    dataset = cfg.train_dataloader.dataset.type
    assert dataset == ('CIFAR100Split' if classes == 100 else 'CIFAR10Split')
    backbone = cfg.model.backbone
    assert backbone.type == 'RLAXception'
    assert backbone.with_rla == ('rla' in name)
    model = build_model_without_weights(cfg, init_weights=True).eval()
    count = sum(p.numel() for p in model.parameters())
    assert count == expected
    assert abs(count / 1e6 - paper) <= 0.02 * paper
    with torch.no_grad():
        scores = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert scores.shape == (2, classes)
    assert torch.isfinite(scores).all()
