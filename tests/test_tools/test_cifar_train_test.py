"""End to end on a CIFAR config of configs/cifar/: tools/train.py validates
on the held-out split and keeps the best checkpoint (save_best), then
tools/test.py evaluates that checkpoint on the test split; missing data
stops both tools with one line saying where the files come from."""
import ast
import glob
import json
import os.path as osp
import pickle

import pytest
import torch

from mmrla.datasets.synthetic import FORMATS
from tests.fixtures.console import REPO, assert_line, run_tool, screen
from tests.fixtures.tiny_cifar import tiny_cifar  # noqa: F401
from tests.fixtures.tiny_cifar import tiny_cifar_root  # noqa: F401
from tests.fixtures.tiny_cifar import (CIFAR_CONFIG, NUM_TEST, NUM_TRAIN,
                                       cifar_options)

CONFIG = osp.join(REPO, CIFAR_CONFIG)
NUM_VAL = 4
EPOCHS = 2
BATCH = 4
ITERS = (NUM_TRAIN - NUM_VAL) // BATCH  # training iterations an epoch


def _options(options):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def _run_options(root):
    """The tiny set with 4 of its 16 training images held out for
    validation, 4 images a batch, 2 epochs."""
    options = cifar_options(root, batch_size=BATCH)
    options.update({
        'train_cfg.max_epochs': EPOCHS,
        'train_dataloader.dataset.num_val': NUM_VAL,
        'val_dataloader.dataset.num_val': NUM_VAL,
        # One image a batch: the log counts the validation images.
        'val_dataloader.batch_size': 1,
    })
    return options


def _train(*args):
    from tools.train import main
    return main([str(a) for a in args])


def _test(*args):
    from tools.test import main
    return main([str(a) for a in args])


def _test_labels(root):
    with open(osp.join(root, 'cifar-10-batches-py', 'test_batch'), 'rb') as f:
        return pickle.load(f)['labels']


def _val_records(work_dir):
    path, = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if 'accuracy/top1' in r]


@pytest.mark.slow
def test_train_keeps_the_best_validation_checkpoint_and_test_uses_it(
        tiny_cifar, tmp_path, capsys):  # noqa: F811
    work_dir = tmp_path / 'work'
    options = _options(_run_options(tiny_cifar))
    assert _train(CONFIG, '--work-dir', work_dir, *options) == 0
    log = capsys.readouterr().out
    log += ''.join(
        open(p).read() for p in glob.glob(str(work_dir / '*' / '*.log')))
    # Each epoch: 3 training iterations on 12 images, then validation on
    # the 4 held-out images (not on the 8 test images).
    assert f'Epoch(train) [{EPOCHS}][{ITERS}/{ITERS}]' in log
    assert f'Epoch(val) [{EPOCHS}][{NUM_VAL}/{NUM_VAL}]' in log
    val = _val_records(work_dir)
    assert [r['step'] for r in val] == list(range(1, EPOCHS + 1))
    for record in val:  # a multiple of 1/4: accuracy on 4 images
        assert (record['accuracy/top1'] * NUM_VAL / 100) % 1 == 0

    # save_best kept the checkpoint of the best validation accuracy.
    best, = glob.glob(str(work_dir / 'best_accuracy_top1_epoch_*.pth'))
    epoch = int(best.rsplit('_', 1)[1][:-len('.pth')])
    scores = [r['accuracy/top1'] for r in val]
    assert scores[epoch - 1] == max(scores)
    assert scores.index(max(scores)) == epoch - 1  # first best is kept
    ckpt = torch.load(best, map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == epoch
    assert ckpt['message_hub']['runtime_info']['best_score'] == max(scores)
    # The recipe's optimizer ran (the best checkpoint keeps only weights).
    last = torch.load(
        work_dir / f'epoch_{EPOCHS}.pth',
        map_location='cpu',
        weights_only=False)
    group = last['optimizer']['param_groups'][0]
    assert group['nesterov'] and group['momentum'] == 0.9
    assert group['lr'] == pytest.approx(0.1)

    # tools/test.py on the best checkpoint: the 8 test images, in order.
    out = tmp_path / 'preds.pkl'
    assert _test(CONFIG, best, '--work-dir', tmp_path / 'test', '--out', out,
                 *options) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("{'accuracy/top1': ")
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == NUM_TEST
    labels = [int(p['gt_label']) for p in preds]
    assert labels == _test_labels(tiny_cifar)
    correct = sum(int(p['pred_label']) == int(p['gt_label']) for p in preds)
    assert ast.literal_eval(printed)['accuracy/top1'] == pytest.approx(
        100 * correct / NUM_TEST)


def _data_root_options(root):
    return [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


def _assert_missing_data_line(output, split, root):
    """The one line on screen names the missing folder, where the files
    come from and the option that points the config at them."""
    lines = screen(output)
    assert len(lines) == 1, output[-3000:]
    first = osp.join(root, FORMATS['cifar10']['folder'], 'data_batch_1')
    assert_line(
        lines[0], f'error: The {split} dataset data_root "{root}" does not '
        'exist', 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
        f'{first} exists', f'--cfg-options {split}_dataloader.dataset.'
        'data_root=')


@pytest.mark.slow
def test_train_without_data_says_where_the_files_come_from_first(tmp_path):
    root = tmp_path / 'cifar10'
    proc = run_tool('tools/train.py', CIFAR_CONFIG, '--work-dir',
                    tmp_path / 'work', '--cfg-options',
                    *_data_root_options(root))
    assert proc.returncode == 2, proc.stdout[-3000:]
    _assert_missing_data_line(proc.stdout, 'train', root)
    assert not (tmp_path / 'work').exists()  # no runner was started


@pytest.mark.slow
def test_test_without_data_says_where_the_files_come_from_first(
        tmp_path, capsys):
    root = tmp_path / 'cifar10'
    # Any existing file passes the checkpoint's first checks.
    assert _test(CONFIG, CONFIG, '--work-dir', tmp_path / 'work',
                 '--cfg-options', *_data_root_options(root)) == 2
    printed = capsys.readouterr()
    assert printed.out == ''
    _assert_missing_data_line(printed.err, 'test', root)
    assert not (tmp_path / 'work').exists()


def test_an_incomplete_unpacking_names_the_missing_file(
        tiny_cifar_root, tmp_path, capsys):  # noqa: F811
    import shutil
    root = tmp_path / 'cifar10'
    shutil.copytree(tiny_cifar_root, root)
    missing = root / 'cifar-10-batches-py' / 'data_batch_3'
    missing.unlink()
    assert _train(CONFIG, '--work-dir', tmp_path / 'work', '--cfg-options',
                  *_data_root_options(root)) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f'error: The train dataset data_root "{missing}" does not exist. '
        'Download cifar-10-python.tar.gz')
    assert len(err.splitlines()) == 1
