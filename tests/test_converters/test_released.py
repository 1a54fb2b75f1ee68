"""An authors' released file is never run unconverted: the tools and
mmrla's loading functions stop with an error that names the converter
command (docs/weights.md, "Which path checks where")."""
import os
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

from mmrla.converters import (RELEASED_CHECKPOINTS, UnconvertedCheckpointError,
                              conversion_command, find_released)
from mmrla.errors import UserError
from mmrla.weights import (check_pretrained_file, check_pretrained_weights,
                           load_checked_checkpoint)
from tests.fixtures.det_configs import REPO, config_path
from tests.fixtures.reference_models import RefRLAResNet
from tests.fixtures.rlanet_checkpoints import (authors_imagenet_checkpoint,
                                               save_authors_detector)

register_all_modules(init_default_scope=False)

DET_CONFIG = config_path('faster_rcnn', 'r50rla')
CLS_CONFIG = osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py')


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


def _assert_loading_refused(model, path, key):
    """mmrla's loading function (as tools/test.py, the demos and library
    code load) names the key that gives the layout away and the command."""
    with pytest.raises(UserError) as error:
        load_checked_checkpoint(model, path)
    assert key in str(error.value)
    assert conversion_command(path) in str(error.value)


def test_detectors_refuse_an_unconverted_detector(detector_file):
    cfg = Config.fromfile(DET_CONFIG)
    _assert_loading_refused(
        DET_MODELS.build(cfg.model), detector_file,
        "'backbone.stage_bns.0.0.weight'")
    # A detector file as the backbone's Pretrained init_cfg.
    cfg.model.backbone.init_cfg.checkpoint = detector_file
    with pytest.raises(UserError) as error:
        check_pretrained_weights(cfg)
    assert conversion_command(detector_file) in str(error.value)


def test_classifiers_refuse_an_unconverted_imagenet_file(imagenet_file):
    from mmpretrain.apis import get_model

    # The key as mmengine would load it: ``module.`` removed.
    _assert_loading_refused(
        get_model(CLS_CONFIG), imagenet_file, "'stage_bns.0.0.weight'")


def test_pretrained_init_cfg_refuses_an_unconverted_imagenet_file(
        imagenet_file):
    # With prefix='backbone.' mmengine would stop at "backbone. is not in
    # the pretrained model"; the check names the fix first.
    cfg = Config.fromfile(DET_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = imagenet_file
    with pytest.raises(UserError) as error:
        check_pretrained_weights(cfg)
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
