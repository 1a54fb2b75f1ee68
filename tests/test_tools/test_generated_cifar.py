"""Generated CIFAR pickles work in tools/train.py and tools/test.py as they
are, in a fresh process: nothing turns mmpretrain's MD5 checks off
beforehand, as the demo and the in-process tests do."""
import glob
import os
import subprocess
import sys

import pytest

from mmrla.datasets.synthetic.cifar_shapes import write_cifar
from tests.fixtures.console import REPO
from tests.fixtures.tiny_cifar import CIFAR_CONFIG


def _run(*args) -> str:
    proc = subprocess.run([sys.executable, *map(str, args)],
                          cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS='2'),
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_train_and_test_read_generated_cifar_files(tmp_path):
    root = str(tmp_path / 'cifar10')
    write_cifar(root, 16, 8, 'cifar10')
    options = ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1']
    for split in ('train', 'val', 'test'):
        options += [
            f'{split}_dataloader.dataset.data_root={root}',
            f'{split}_dataloader.batch_size=4',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False'
        ]
    options += [f'{s}_dataloader.dataset.num_val=4' for s in ('train', 'val')]
    work = tmp_path / 'work'
    _run('tools/train.py', CIFAR_CONFIG, '--work-dir', work, '--cfg-options',
         *options)
    best, = glob.glob(str(work / 'best_accuracy_top1_epoch_1.pth'))
    stdout = _run('tools/test.py', CIFAR_CONFIG, best, '--work-dir',
                  tmp_path / 'test', '--cfg-options', *options)
    assert stdout.strip().splitlines()[-1].startswith("{'accuracy/top1': ")
