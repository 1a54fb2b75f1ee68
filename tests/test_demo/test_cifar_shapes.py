"""demo/cifar_shapes.py (any CIFAR config on synthetic shapes) and
demo/layer_attention_cifar.py, which shares its training and testing, at a
tiny size."""
import json
import os.path as osp
import re

import pytest

from mmrla.datasets.synthetic import cifar_shapes
from tests.fixtures.console import REPO, assert_line
from tests.fixtures.tiny_cifar import CIFAR_CONFIG

CONFIG = osp.join(REPO, CIFAR_CONFIG)


@pytest.fixture
def md5_checks_restored(monkeypatch):
    """The demos turn mmpretrain's MD5 checks off for their process; here
    only for the test."""
    real = cifar_shapes.disable_md5_checks
    monkeypatch.setattr(cifar_shapes, 'disable_md5_checks',
                        lambda: real(monkeypatch.setattr))


@pytest.mark.slow
def test_cifar_shapes_demo(md5_checks_restored, tmp_path, capsys):
    from demo.cifar_shapes import main
    work_dir = tmp_path / 'work'
    assert main([
        '--config', CONFIG, '--data',
        str(tmp_path / 'data'), '--work-dir',
        str(work_dir), '--num-train', '20', '--num-val', '4', '--num-test',
        '6', '--epochs', '2', '--batch-size', '8'
    ]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = re.fullmatch(
            rf'Trained {re.escape(CONFIG)} for 2 epochs on 16 images in '
            r'[\d.]+ min\. '
            r'Validation top-1 on the 4 held-out training images after each '
            r'epoch \(%\): ([\d.]+), ([\d.]+)\. Test top-1 of '
            r'best_accuracy_top1_epoch_(\d)\.pth on 6 images: ([\d.]+)% '
            r'\(chance: 33\.3%\)\.', last)
    assert match, last
    val = [float(match.group(1)), float(match.group(2))]
    assert all(v * 4 / 100 == int(v * 4 / 100) for v in val)  # 4 images
    assert val[int(match.group(3)) - 1] == max(val)  # the best was tested
    correct = float(match.group(4)) * 6 / 100  # of 6 images, printed .1f
    assert correct == pytest.approx(round(correct), abs=0.01)


def test_config_of_another_dataset_is_refused(tmp_path, capsys):
    from demo.cifar_shapes import main
    config = osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py')
    assert main(['--config', config, '--data', str(tmp_path)]) == 2
    assert_line(
        capsys.readouterr().err,
        'error: The dataset ImageNet does not read CIFAR-10 or '
        'CIFAR-100 pickles', 'CIFAR10/CIFAR100', 'CIFAR10Split/CIFAR100Split')


@pytest.mark.slow
def test_layer_attention_demo(md5_checks_restored, tmp_path, capsys):
    from demo.layer_attention_cifar import main
    work_dir = tmp_path / 'work'
    assert main([
        '--data',
        str(tmp_path / 'data'), '--work-dir',
        str(work_dir), '--num-train', '10', '--num-test', '4', '--epochs', '1',
        '--batch-size', '5'
    ]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r'Trained 1 epochs in [\d.]+ min; test top-1 [\d.]+%; layer '
        r'attention per block: ([\d.]+, ){8}[\d.]+; figures in ' +
        re.escape(f'{work_dir}/attention'), last), last
    with open(work_dir / 'attention' / 'layer_attention.json') as f:
        assert len(json.load(f)['mean']) == 9
    assert osp.isfile(work_dir / 'epoch_1.pth')
