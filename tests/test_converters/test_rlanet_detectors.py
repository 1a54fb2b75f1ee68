"""The authors' released COCO detectors (mmdet 2.x files) convert, load
strictly into the twelve detection configs and give their backbone's
features.

The files are built by ``tests/fixtures/rlanet_checkpoints.py`` from the
plain restatement of the authors' detection backbone and mmdet 2.x's neck
and head names, with random weights and statistics.
"""
import functools

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmrla.converters import convert_rlanet
from tests.fixtures.det_configs import BACKBONES, FAMILIES, REPO
from tests.fixtures.rlanet_checkpoints import (COCO_CLASSES,
                                               authors_detector_checkpoint,
                                               reference_detection_backbone,
                                               released_detector,
                                               save_authors_detector)
from tests.fixtures.sizes import is_deep, slow_where

register_all_modules(init_default_scope=False)

# The last block of R50 and R101 alike (3 blocks in the last stage): its RLA
# norm is the one allowed drop.
LAST_NORM = 'backbone.stage_bns.3.2'


def _relative_error(actual, expected):
    return ((actual - expected).norm() / expected.norm()).item()


@functools.lru_cache(maxsize=1)
def _reference(backbone):
    # The three detectors of a backbone run one after the other (family is
    # the inner parameter): one random backbone serves them.
    return reference_detection_backbone(backbone)


@pytest.mark.parametrize('family', FAMILIES)
# RLA-ResNet-50 in the quick run; its ECA variant and the deep ones in the
# full run.
@pytest.mark.parametrize(
    'backbone',
    slow_where(BACKBONES, lambda name: is_deep(name) or 'eca' in name))
def test_released_detector_converts_loads_strictly_and_matches(
        backbone, family, tmp_path, capsys):
    from tools.model_converters.rlanet_to_mmrla import main as convert
    ref, src = save_authors_detector(
        str(tmp_path), family, backbone, ref=_reference(backbone))
    released = released_detector(family, backbone)
    dst = tmp_path / released.converted
    assert convert([src, str(dst)]) == 0
    out = capsys.readouterr().out
    assert f'Left out 5 tensors of {LAST_NORM},' in out
    assert f'python tools/test.py {released.config} {dst}' in out

    source = torch.load(src, weights_only=True)['state_dict']
    converted = torch.load(dst, weights_only=True)
    assert converted['meta']['dataset_meta']['classes'] == COCO_CLASSES
    assert len(converted['meta']['dataset_meta']['palette']) == 80
    assert converted['meta']['source_mmdet_version'] == '2.11.0'
    # Neck and head tensors pass unchanged.
    for key, value in source.items():
        if not key.startswith('backbone.'):
            assert torch.equal(converted['state_dict'][key], value), key

    cfg = Config.fromfile(f'{REPO}/{released.config}')
    model = MODELS.build(cfg.model)
    # mmengine's loader, strict: no missing and no unexpected key.
    load_checkpoint(model, str(dst), strict=True, logger='silent')
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x)
        features = model.backbone(x)
    assert len(features) == len(expected) == 4
    for stage, (actual, wanted) in enumerate(zip(features, expected)):
        assert actual.shape == wanted.shape, stage
        assert _relative_error(actual, wanted) < 1e-5, stage


@pytest.fixture(scope='module')
def r50_detector():
    ref = reference_detection_backbone('r50rla', seed=1)
    return authors_detector_checkpoint('mask_rcnn', ref, seed=1)


def test_conversion_is_pure_and_drops_only_the_last_rla_norm(r50_detector):
    source = r50_detector['state_dict']
    snapshot = dict(source)
    result = convert_rlanet(source)
    assert source == snapshot
    assert (result.layout.task, result.layout.family) == ('detection',
                                                          'resnet')
    assert result.dropped == [
        f'{LAST_NORM}.{name}'
        for name in ('weight', 'bias', 'running_mean', 'running_var',
                     'num_batches_tracked')
    ]
    assert len(result.state_dict) == len(source) - 5
    assert result.state_dict['backbone.layer4.1.rla_norm.weight'] is \
        source['backbone.stage_bns.3.1.weight']
    assert 'backbone.layer4.2.rla_norm.weight' not in result.state_dict
    assert result.state_dict['roi_head.mask_head.upsample.weight'] is \
        source['roi_head.mask_head.upsample.weight']


@pytest.mark.parametrize(
    'key,why',
    [
        ('backbone.bn2.weight', 'Unknown key'),  # a classifier part
        ('backbone.stages.0.0.extra.weight', 'Unknown key'),
        ('neck.extra_conv.weight', 'FPN neck'),
        ('roi_head.mask_iou_head.fc.weight', 'FPN neck'),
        ('ema_backbone_conv1_weight', 'FPN neck'),
    ])
def test_refuses_unknown_keys(r50_detector, key, why):
    source = dict(r50_detector['state_dict'])
    source[key] = torch.zeros(1)
    with pytest.raises(ValueError, match=why):
        convert_rlanet(source)


def test_other_class_names_are_kept(r50_detector, tmp_path, capsys):
    from tools.model_converters.rlanet_to_mmrla import main as convert
    checkpoint = dict(r50_detector, meta=dict(CLASSES=('cat', 'dog')))
    src, dst = tmp_path / 'mine.pth', tmp_path / 'mine_mmrla.pth'
    torch.save(checkpoint, src)
    assert convert([str(src), str(dst)]) == 0
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['dataset_meta'] == dict(classes=('cat', 'dog'))
    assert 'Class names: 2' in capsys.readouterr().out
