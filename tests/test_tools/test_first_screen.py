"""What a user sees first when a tool is given a mistake: one line that
names it, before any log, config dump or list of checkpoint keys."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures.console import REPO, assert_line, run_tool, screen
from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import write_tiny_config

CONFIG = 'configs/r50rla_4xb64_in1k.py'


@pytest.mark.slow
@pytest.mark.parametrize(
    'option,message',
    [('model.backbone.type=RLAResnet',
      f'error: model.backbone.type = "RLAResnet" in {CONFIG} is not in the '
      'mmpretrain::model registry. Did you mean "RLAResNet"'),
     ('model.backbone.dpeth=18',
      f'error: model.backbone.dpeth in {CONFIG}: RLAResNet has no argument '
      '"dpeth". Did you mean "depth"?')])
def test_train_reports_a_config_typo_first(tmp_path, option, message):
    work_dir = tmp_path / 'work'
    proc = run_tool('tools/train.py', CONFIG, '--work-dir', work_dir,
                    '--cfg-options', option)
    assert proc.returncode == 2, proc.stdout[-3000:]
    lines = screen(proc.stdout)
    assert len(lines) == 1 and lines[0].startswith(message), lines[:20]
    assert not work_dir.exists()  # no runner was started


@pytest.fixture
def wrong_checkpoint(tmp_path):
    """A checkpoint of another model: a detector's RPN conv only."""
    path = tmp_path / 'detector.pth'
    torch.save({'state_dict': {
        'rpn_head.rpn_conv.weight': torch.zeros(1)
    }}, path)
    return str(path)


def _is_the_refusal(lines, checkpoint):
    return len(lines) == 1 and lines[0].startswith(
        f'error: {checkpoint} does not fit the model of the config')


@pytest.mark.slow
def test_test_refuses_a_wrong_model_checkpoint_first(
        tiny_imagenet,  # noqa: F811
        wrong_checkpoint,
        tmp_path):
    config = write_tiny_config(
        str(tmp_path / 'mbv2.py'), 'mobilenetv2rla_2xb48_in1k.py',
        tiny_imagenet)
    proc = run_tool('tools/test.py', config, wrong_checkpoint, '--work-dir',
                    tmp_path / 'work')
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert _is_the_refusal(screen(proc.stdout), wrong_checkpoint), \
        proc.stdout[-3000:]


@pytest.mark.slow
def test_image_demo_refuses_a_wrong_model_checkpoint_first(
        wrong_checkpoint, tmp_path):
    image = tmp_path / 'img.jpg'
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(image)
    proc = run_tool('demo/image_demo.py', image,
                    'configs/mobilenetv2rla_2xb48_in1k.py', wrong_checkpoint)
    assert proc.returncode == 2, proc.stdout[-3000:]
    lines = screen(proc.stdout)
    assert _is_the_refusal(lines, wrong_checkpoint), proc.stdout[-3000:]
    # Every parameter and buffer (BN's num_batches_tracked aside).
    assert "lacks 342 of the model's 412 weights and buffers" in lines[0]
    assert '1 keys are not in the model: rpn_head.rpn_conv.weight' in lines[0]


def test_test_says_where_checkpoints_come_from(tmp_path, capsys):
    from tools.test import main
    missing = tmp_path / 'epoch_12.pth'
    config = osp.join(REPO, CONFIG)
    assert main([config, str(missing)]) == 2
    assert_line(capsys.readouterr().err,
                f'error: Checkpoint {missing} does not exist',
                f'tools/train.py {config}', 'work_dirs/r50rla_4xb64_in1k/',
                'tools/model_converters/rlanet_to_mmrla.py')
