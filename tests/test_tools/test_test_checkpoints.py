"""``tools/test.py`` evaluates only checkpoints that set every weight.

On a two-image COCO set: the authors' unconverted detector is refused with
the converter command, a converted file that lacks keys is refused with the
keys, and the complete converted file is evaluated.
"""
import ast
import os
import subprocess
import sys

import pytest
import torch

from tests.fixtures.det_configs import (REPO, cli_options, config_path,
                                        small_options)
from tests.fixtures.rlanet_checkpoints import (released_detector,
                                               save_authors_detector)
from tests.fixtures.tiny_coco import write_tiny_coco

FAMILY, BACKBONE = 'faster_rcnn', 'r50rla'


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Two-image COCO data, the authors' file and its conversion."""
    from tools.model_converters.rlanet_to_mmrla import main as convert
    tmp = tmp_path_factory.mktemp('test_checkpoints')
    tiny = write_tiny_coco(str(tmp / 'coco'), num_images=2)
    _, authors = save_authors_detector(str(tmp), FAMILY, BACKBONE)
    converted = str(tmp / released_detector(FAMILY, BACKBONE).converted)
    assert convert([authors, converted]) == 0
    return tiny, authors, converted


def _test(tiny, checkpoint, work_dir):
    options = cli_options(small_options(tiny, FAMILY))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([
        sys.executable, 'tools/test.py',
        config_path(FAMILY, BACKBONE), checkpoint, '--work-dir',
        str(work_dir), '--cfg-options', *options
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True)


def test_refuses_the_authors_unconverted_file(files, tmp_path, capsys):
    from tools.test import main
    tiny, authors, _ = files
    # It stops before building anything, so it runs in this process.
    options = cli_options(small_options(tiny, FAMILY))
    assert main([
        config_path(FAMILY, BACKBONE), authors, '--work-dir',
        str(tmp_path), '--cfg-options', *options
    ]) == 2
    err = capsys.readouterr().err
    assert ('python tools/model_converters/rlanet_to_mmrla.py '
            f'{authors} checkpoints/faster_rcnn_r50rla_fpn_1x_coco.pth') in err
    assert not list(tmp_path.iterdir())  # no run was started


@pytest.mark.slow
def test_refuses_a_checkpoint_that_lacks_weights(files, tmp_path):
    tiny, _, converted = files
    checkpoint = torch.load(converted, weights_only=True)
    lacking = [
        'backbone.layer1.0.conv1.weight', 'neck.fpn_convs.0.conv.bias',
        'roi_head.bbox_head.fc_cls.weight'
    ]
    for key in lacking:
        del checkpoint['state_dict'][key]
    partial = str(tmp_path / 'partial.pth')
    torch.save(checkpoint, partial)
    proc = _test(tiny, partial, tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f'{partial} does not fit the model of the config' in proc.stderr
    assert 'lacks 3 of the model' in proc.stderr
    for key in lacking:
        assert key in proc.stderr
    assert 'coco/bbox_mAP' not in proc.stdout


@pytest.mark.slow
def test_evaluates_the_converted_file(files, tmp_path):
    tiny, _, converted = files
    proc = _test(tiny, converted, tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    printed = [
        line for line in proc.stdout.splitlines()
        if line.startswith('{') and 'coco/bbox_mAP' in line
    ]
    metrics = ast.literal_eval(printed[-1])
    assert 0.0 <= metrics['coco/bbox_mAP_50'] <= 1.0
    # mmengine found nothing to complain about while loading.
    assert 'missing keys' not in proc.stdout + proc.stderr
    assert 'unexpected key' not in proc.stdout + proc.stderr
