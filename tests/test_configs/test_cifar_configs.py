"""The pre-activation ResNet configs of configs/cifar/ (ResNet-110/164 with
and without RLA, Table 2) and configs/cifar/ablations/ (Tables 11-13 and
15) build through mmengine's Config and mmpretrain's registry, classify a
CIFAR-sized batch, and carry the paper's parameter counts."""
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.fixtures.models import num_params
from tests.fixtures.sizes import slow_where

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config (under configs/cifar/): (backbone options the name promises, the
# paper's count in 10^6 or None). ResNet-164 rounds to 1.70M / 1.73M and
# no-exchange to 1.71M (see mmrla/models/backbones/rla_preact_resnet.py).
MODELS = {
    f'{name}_b128_cifar{ds}.py': (options, paper[ds])
    for name, options, paper in (
        ('r110', dict(depth=110, with_rla=False), {
            10: 1.73,
            100: 1.74
        }),
        ('r110rla', dict(depth=110, with_rla=True), {
            10: 1.80,
            100: 1.81
        }),
        ('r164', dict(depth=164, with_rla=False), {
            10: 1.72,
            100: 1.74
        }),
        ('r164rla', dict(depth=164, with_rla=True), {
            10: 1.74,
            100: 1.76
        }),
    )
    for ds in (10, 100)
}
ABLATIONS = {
    f'ablations/r164rla-{name}_b128_cifar10.py': (options, paper)
    for name, options, paper in (
        ('v2', dict(update_position='after'), 1.74),
        ('v3', dict(rla_source='output'), 1.74),
        ('v4', dict(rla_source='output', update_position='after'), 1.74),
        ('v5', dict(rla_source='shortcut'), 1.74),
        ('v6', dict(rla_source='shortcut', update_position='after'), 1.74),
        ('unshared', dict(share_rla_convs=False), 1.90),
        ('no-exchange', dict(exchange=False), 1.72),
        ('convlstm', dict(cell_cfg=dict(type='ConvLSTMCell'), readout='none'),
         1.77),
        ('convgru', dict(cell_cfg=dict(type='ConvGRUCell'), readout='none'),
         None),
        ('postact', dict(cell_cfg=dict(type='PostActRLACell'), readout='none'),
         1.74),
        ('k8', dict(rla_channel=8), 1.73),
        ('k16', dict(rla_channel=16), 1.75),
        ('k24', dict(rla_channel=24), 1.78),
    )
}
ABLATIONS['ablations/r164-channel12_b128_cifar10.py'] = (dict(
    with_rla=False, extra_channels=12), 1.93)
CONFIGS = {**MODELS, **ABLATIONS}
DPN = 'ablations/r164-dpn_b128_cifar10.py'


@functools.lru_cache(maxsize=None)
def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'cifar', name))


def test_the_agreed_names_exist():
    """configs/cifar/ holds other families too; these are the
    pre-activation ResNets (the names of the CIFAR issue)."""
    found = {
        osp.relpath(p, osp.join(REPO, 'configs', 'cifar'))
        for pattern in ('r1[16][04]*.py', 'ablations/r164*.py')
        for p in glob.glob(osp.join(REPO, 'configs', 'cifar', pattern))
    }
    # The dual path network is another backbone (test_dpn_config).
    assert found == set(CONFIGS) | {DPN}


# The widest depth-164 ablations in the full run only.
@pytest.mark.parametrize(
    'name',
    slow_where(
        sorted(CONFIGS), {
            'ablations/r164rla-k24_b128_cifar10.py',
            'ablations/r164rla-k16_b128_cifar10.py',
            'ablations/r164rla-convgru_b128_cifar10.py'
        }))
def test_config_builds_classifies_and_counts(name):
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    cfg = _cfg(name)
    assert 'mmrla.models' in cfg.custom_imports['imports']
    assert cfg.custom_imports['allow_failed_imports'] is False
    options, paper = CONFIGS[name]
    backbone = cfg.model.backbone
    assert backbone.type == 'RLAPreActResNet'
    for key, value in options.items():
        assert backbone.get(key) == value, key
    classes = 100 if name.endswith('cifar100.py') else 10
    assert cfg.model.head.num_classes == classes
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_cfg.max_epochs == 300

    import mmrla.models  # noqa: F401
    torch.manual_seed(0)
    model = MMPRETRAIN_MODELS.build(cfg.model).eval()
    model.init_weights()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, classes)
    assert torch.isfinite(logits).all()
    # The head's in_channels is the backbone's feature width (h included).
    assert model.head.fc.in_features == model.backbone.out_channels[-1]
    if paper is not None:
        count = num_params(model) / 1e6
        assert abs(count / paper - 1) <= 0.02, (count, paper)


def test_dpn_config():
    """Table 11's "DenseNet (DPN)" row: ResNet-164 with a dense path of
    k = 12, 2.13M parameters; the head reads both paths."""
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    cfg = _cfg(DPN)
    assert cfg.model.backbone.type == 'DualPathPreActResNet'
    assert cfg.model.backbone.growth == 12
    assert cfg.train_cfg.max_epochs == 300
    import mmrla.models  # noqa: F401
    model = MMPRETRAIN_MODELS.build(cfg.model).eval()
    assert model.head.fc.in_features == model.backbone.out_channels == 496
    assert round(num_params(model) / 1e6, 2) == 2.13
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32), mode='tensor').shape == (2, 10)
