"""Generated CIFAR pickles carry the list of their MD5 sums, so the tools
read them without mmpretrain's check of the official sums, and any other
files still get that check, with one line naming the fix."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmrla.datasets.synthetic import cifar_shapes
from mmrla.datasets.synthetic.cifar_shapes import (MANIFEST,
                                                   accept_generated_cifar,
                                                   generated_folder,
                                                   write_cifar)
from mmrla.errors import UserError
from tests.fixtures.console import REPO, assert_line

CONFIG = osp.join(REPO, 'configs', 'cifar', 'r110rla_b128_cifar10.py')


@pytest.fixture
def calls(monkeypatch):
    """Records the calls of disable_md5_checks instead of making them."""
    made = []
    monkeypatch.setattr(cifar_shapes, 'disable_md5_checks',
                        lambda: made.append(True))
    return made


def _cfg(root):
    cfg = Config.fromfile(CONFIG)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = root
    return cfg


def test_written_files_are_listed_with_their_md5(tmp_path):
    folder = write_cifar(str(tmp_path), 10, 2, 'cifar10')
    with open(osp.join(folder, MANIFEST)) as f:
        listed = json.load(f)
    assert sorted(listed) == sorted([f'data_batch_{i}' for i in range(1, 6)] +
                                    ['test_batch', 'batches.meta'])
    assert generated_folder(folder) is True
    with open(osp.join(folder, 'test_batch'), 'ab') as f:
        f.write(b'\0')
    assert generated_folder(folder) is False
    assert generated_folder(str(tmp_path)) is None  # no list there


def test_generated_files_turn_the_official_checks_off(tmp_path, calls):
    write_cifar(str(tmp_path), 10, 2, 'cifar10')
    accept_generated_cifar(_cfg(str(tmp_path)), ('train', 'val', 'test'))
    assert calls == [True]


def test_changed_generated_files_are_refused(tmp_path, calls):
    folder = write_cifar(str(tmp_path), 10, 2, 'cifar10')
    with open(osp.join(folder, 'data_batch_2'), 'ab') as f:
        f.write(b'\0')
    with pytest.raises(UserError) as error:
        accept_generated_cifar(_cfg(str(tmp_path)), ('test', ))
    assert_line(
        str(error.value), f'The generated CIFAR files in {folder} changed',
        MANIFEST, 'python tools/dataset_converters/generate_cifar_shapes.py '
        f'{tmp_path} --format cifar10')
    assert calls == []


def test_files_neither_generated_nor_official_are_refused(tmp_path, calls):
    folder = write_cifar(str(tmp_path), 10, 2, 'cifar10')
    os.remove(osp.join(folder, MANIFEST))
    with pytest.raises(UserError) as error:
        accept_generated_cifar(_cfg(str(tmp_path)), ('test', ))
    message = str(error.value)
    assert message.startswith(f'{osp.join(folder, "data_batch_1")} is not '
                              'the official CIFAR10Split file')
    assert 'cifar-10-python.tar.gz' in message
    assert 'generate_cifar_shapes.py' in message
    assert calls == []


def test_other_datasets_are_left_alone(tmp_path, calls):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py'))
    accept_generated_cifar(cfg, ('train', 'val'))
    assert calls == []
