"""An authors' released file is never run unconverted: every loader stops
with an error that names the converter command.

The RLA backbones register :func:`refuse_unconverted_checkpoints`; the
``init_cfg`` and ``load_from`` paths are checked by
:func:`check_pretrained_file` and ``tools/train.py``.
"""
import os
import os.path as osp
import re

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmrla.converters import (RELEASED_CHECKPOINTS, UnconvertedCheckpointError,
                              check_pretrained_file, conversion_command,
                              find_released)
from tests.fixtures.det_configs import REPO, config_path
from tests.fixtures.reference_models import RefRLAResNet
from tests.fixtures.rlanet_checkpoints import (authors_imagenet_checkpoint,
                                               save_authors_detector)

register_all_modules(init_default_scope=False)

DET_CONFIG = config_path('faster_rcnn', 'r50rla')
CLS_CONFIG = osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py')
REFUSED = r'rlanet_to_mmrla\.py'


def test_the_table_lists_the_authors_model_zoo():
    # Their README: 6 ImageNet files and 12 COCO detectors.
    assert len(RELEASED_CHECKPOINTS) == 18
    names = list(RELEASED_CHECKPOINTS)
    assert sum('_fpn_1x_coco_' in n for n in names) == 12
    for name, released in RELEASED_CHECKPOINTS.items():
        assert released.filename.startswith(name + '.pth')
        assert osp.isfile(osp.join(REPO, released.config)), name
        assert released.converted.startswith('checkpoints/')
        assert find_released(f'downloads/{released.filename}') is released
        assert find_released(released.converted) is released
    assert conversion_command('retinanet_r101rlaeca_fpn_1x_coco_415.pth') \
        == ('python tools/model_converters/rlanet_to_mmrla.py '
            'retinanet_r101rlaeca_fpn_1x_coco_415.pth '
            'checkpoints/retinanet_r101rlaeca_fpn_1x_coco.pth')


@pytest.fixture(scope='module')
def detector_file(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('released_det'))
    return save_authors_detector(folder, 'faster_rcnn', 'r50rla')[1]


@pytest.fixture(scope='module')
def imagenet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('released_cls') / \
        'resnet50_rla_2283.pth.tar'
    torch.save(
        authors_imagenet_checkpoint(RefRLAResNet(), 'rla_resnet50'), path)
    return str(path)


def _assert_loaders_refuse(model, path, key):
    """mmengine's loader (non-strict, as tools/test.py, load_from, --resume
    and the inferencers use it) and torch's, non-strict too."""
    with pytest.raises(UnconvertedCheckpointError, match=REFUSED):
        load_checkpoint(model, path, logger='silent')
    state_dict = torch.load(path, weights_only=True)['state_dict']
    with pytest.raises(UnconvertedCheckpointError, match=re.escape(key)):
        model.load_state_dict(state_dict, strict=False)


def test_detectors_refuse_an_unconverted_detector(detector_file):
    cfg = Config.fromfile(DET_CONFIG)
    model = DET_MODELS.build(cfg.model)
    _assert_loaders_refuse(model, detector_file,
                           "'backbone.stage_bns.0.0.weight'")
    # A detector file as the backbone's Pretrained init_cfg.
    cfg.model.backbone.init_cfg.checkpoint = detector_file
    model = DET_MODELS.build(cfg.model)
    command = conversion_command(detector_file)
    with pytest.raises(UnconvertedCheckpointError) as error:
        model.init_weights()
    assert command in str(error.value)


def test_det_inferencer_refuses_an_unconverted_detector(detector_file):
    from mmdet.apis import DetInferencer
    with pytest.raises(UnconvertedCheckpointError, match=REFUSED):
        DetInferencer(
            model=DET_CONFIG,
            weights=detector_file,
            device='cpu',
            show_progress=False)


def test_classifiers_refuse_an_unconverted_imagenet_file(imagenet_file):
    from mmpretrain.apis import ImageClassificationInferencer, get_model
    from mmpretrain.registry import MODELS
    model = MODELS.build(Config.fromfile(CLS_CONFIG).model)
    # The authors' keys sit at the root of the classifier, outside the
    # backbone's part of the state dict.
    _assert_loaders_refuse(model, imagenet_file,
                           "'module.stage_bns.0.0.weight'")
    with pytest.raises(UnconvertedCheckpointError, match=REFUSED):
        get_model(CLS_CONFIG, pretrained=imagenet_file)
    with pytest.raises(UnconvertedCheckpointError, match=REFUSED):
        ImageClassificationInferencer(CLS_CONFIG, pretrained=imagenet_file)


def test_pretrained_init_cfg_refuses_an_unconverted_imagenet_file(
        imagenet_file):
    # With prefix='backbone.' mmengine would stop at "backbone. is not in
    # the pretrained model"; the check names the fix first.
    cfg = Config.fromfile(DET_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = imagenet_file
    model = DET_MODELS.build(cfg.model)
    with pytest.raises(UnconvertedCheckpointError) as error:
        model.init_weights()
    assert ('python tools/model_converters/rlanet_to_mmrla.py '
            f'{imagenet_file} checkpoints/rla_resnet50_in1k.pth') in str(
                error.value)
    with pytest.raises(FileNotFoundError, match='resnet50_rla_2283'):
        check_pretrained_file('checkpoints/rla_resnet50_in1k.pth')


def test_train_refuses_an_unconverted_load_from(detector_file, capsys):
    from tools.train import main
    assert main([
        DET_CONFIG, '--cfg-options', f'load_from={detector_file}',
        'model.backbone.init_cfg=None'
    ]) == 2
    err = capsys.readouterr().err
    assert conversion_command(detector_file) in err


def test_weights_page_gives_the_commands_of_every_released_file():
    with open(osp.join(REPO, 'docs', 'weights.md')) as f:
        page = f.read()
    section = page.split('## Released weights')[1]
    rows = [
        line for line in section.split('\n## ')[0].splitlines()
        if line.startswith('| `')
    ]
    assert len(rows) == len(RELEASED_CHECKPOINTS)
    for row, released in zip(rows, RELEASED_CHECKPOINTS.values()):
        assert row.startswith(f'| `{released.filename}` |')
        assert f'(../{released.config})' in row
        assert f'`{conversion_command(released.filename)}`' in row
        assert (f'`python tools/test.py {released.config} '
                f'{released.converted}`') in row


def test_an_authors_file_under_the_converted_name_is_explained(
        imagenet_file, tmp_path, monkeypatch):
    # Downloaded straight to the path the detection configs read.
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'checkpoints').mkdir()
    os.symlink(imagenet_file, 'checkpoints/rla_resnet50_in1k.pth')
    with pytest.raises(UnconvertedCheckpointError) as error:
        check_pretrained_file('checkpoints/rla_resnet50_in1k.pth')
    assert ('rlanet_to_mmrla.py checkpoints/rla_resnet50_in1k.pth '
            'checkpoints/rla_resnet50_in1k.pth --force') in str(error.value)


def test_missing_file_of_no_released_name_gets_no_converter_advice(tmp_path):
    missing = str(tmp_path / 'work_dirs' / 'la-resnet50_4xb64_in1k.pth')
    with pytest.raises(FileNotFoundError) as err:
        check_pretrained_file(missing)
    message = str(err.value)
    assert missing in message and 'init_cfg=None' in message
    assert 'rlanet_to_mmrla' not in message
