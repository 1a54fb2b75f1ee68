"""Train a CIFAR config on synthetic 32x32 shapes on the CPU and test it.

1. ``tools/dataset_converters/generate_cifar_shapes.py`` writes
   ``--num-train`` training and ``--num-test`` test images of circles,
   squares and triangles to ``--data``, in the pickle format of the
   config's dataset (CIFAR-10 or CIFAR-100);
2. ``tools/train.py`` trains ``--config`` for ``--epochs`` epochs. A config
   with RLA-Net's held-out split (``CIFAR10Split``/``CIFAR100Split``) holds
   the last ``--num-val`` training images out for validation, the 45k/5k
   split scaled down, and keeps the best checkpoint (``save_best``); other
   configs validate on the test images and the last checkpoint is used;
3. ``tools/test.py`` evaluates that checkpoint on the test images;
4. the validation accuracy of every epoch and the test accuracy are printed.

The lr schedule is the config's: a 300-epoch schedule stays at its initial
lr for a few epochs. mmpretrain's CIFAR datasets check the MD5 sums of the
official files, so this script turns those checks off in its own process
before running the tools.

Example:
    # RLA-ResNet-110 learns the shapes in 10 epochs (about 20 min on one CPU
    # thread; 65.8% test top-1 of the best checkpoint, chance 33.3%)
    python demo/cifar_shapes.py --epochs 10 --batch-size 32
    python demo/cifar_shapes.py --config configs/cifar/r164rla_b128_cifar100.py
"""
import argparse
import glob
import json
import os.path as osp
import sys
import time
from typing import List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The demo drives the repository's tools in its own process, so that the
# MD5 checks it turns off for the synthetic files stay off for them.
sys.path.insert(0, REPO)
from mmrla.cli import main_entry  # noqa: E402

CONFIG = 'configs/cifar/r110rla_b128_cifar10.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a CIFAR config on synthetic 32x32 shapes (CPU) '
        'and print its validation and test accuracy.')
    parser.add_argument(
        '--config',
        default=CONFIG,
        help=f'a CIFAR-10 or CIFAR-100 config (default: {CONFIG})')
    parser.add_argument('--data', default='data/shapes32')
    parser.add_argument(
        '--work-dir', help='default: work_dirs/<config name>_shapes32')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument(
        '--num-val',
        type=int,
        default=200,
        help='training images held out for validation (configs with a '
        'held-out split only)')
    parser.add_argument('--num-test', type=int, default=500)
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='more settings for both tools, e.g. model.head.cal_acc=True '
        '(logs the training accuracy for tools/visualization/'
        'error_curves.py)')
    return parser.parse_args(argv)


def _latest(pattern: str) -> str:
    return sorted(glob.glob(pattern))[-1]


def read_val_accuracy(work_dir: str) -> List[float]:
    """Validation top-1 (%) of each epoch of the latest run in
    ``work_dir``."""
    path = _latest(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return [r['accuracy/top1'] for r in records if 'accuracy/top1' in r]


def read_test_accuracy(work_dir: str) -> float:
    """Top-1 (%) of the latest ``tools/test.py`` run in ``work_dir``."""
    run = _latest(osp.join(work_dir, '*', ''))
    with open(osp.join(run, osp.basename(run.rstrip('/')) + '.json')) as f:
        return json.load(f)['accuracy/top1']


def train_and_test(
    config: str,
    data: str,
    work_dir: str,
    num_train: int,
    num_test: int,
    epochs: int,
    batch_size: int,
    num_val: Optional[int] = None,
    cfg_options: Sequence[str] = ()
) -> Optional[dict]:
    """Write the shapes set, train ``config`` on it and test the checkpoint.

    Returns:
        dict | None: ``checkpoint``, ``options`` (the ``--cfg-options`` the
        tools ran with), ``val`` (top-1 of each epoch), ``test`` (top-1),
        ``held_out`` (whether validation used held-out training images)
        and ``minutes`` (training time); None if a tool failed (it printed
        why).

    Raises:
        UserError: If the config's dataset reads no CIFAR pickles.
    """
    from mmrla.cli import load_config
    from mmrla.datasets.synthetic import cifar_shapes
    from tools.test import main as test
    from tools.train import main as train

    cfg = load_config(config)
    fmt, held_out = cifar_shapes.dataset_format(
        cfg.train_dataloader.dataset.type)
    cifar_shapes.write_cifar(data, num_train, num_test, fmt)
    cifar_shapes.disable_md5_checks()
    options = ['--cfg-options', f'train_cfg.max_epochs={epochs}']
    for split in ('train', 'val', 'test'):
        options += [
            f'{split}_dataloader.dataset.data_root={data}',
            f'{split}_dataloader.batch_size={batch_size}',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False',
        ]
        if held_out and split != 'test':
            options.append(f'{split}_dataloader.dataset.num_val={num_val}')
    options += list(cfg_options)
    start = time.time()
    if train([config, '--work-dir', work_dir, *options]):
        return None
    minutes = (time.time() - start) / 60
    best = glob.glob(osp.join(work_dir, 'best_*.pth'))
    checkpoint = best[0] if best else osp.join(work_dir, f'epoch_{epochs}.pth')
    test_dir = osp.join(work_dir, 'test')
    if test([config, checkpoint, '--work-dir', test_dir, *options]):
        return None
    return dict(
        checkpoint=checkpoint,
        options=options,
        val=read_val_accuracy(work_dir),
        test=read_test_accuracy(test_dir),
        held_out=held_out,
        minutes=minutes)


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    work_dir = args.work_dir or osp.join(
        'work_dirs',
        osp.splitext(osp.basename(args.config))[0] + '_shapes32')
    result = train_and_test(args.config, args.data, work_dir, args.num_train,
                            args.num_test, args.epochs, args.batch_size,
                            args.num_val, args.cfg_options)
    if result is None:
        return 1
    val = ', '.join(f'{v:.1f}' for v in result['val'])
    on = f'the {args.num_val} held-out training images' \
        if result['held_out'] else 'the test images'
    print(f'Trained {args.config} for {args.epochs} epochs on '
          f'{args.num_train - (args.num_val if result["held_out"] else 0)} '
          f'images in {result["minutes"]:.1f} min. Validation top-1 on {on} '
          f'after each epoch (%): {val}. Test top-1 of '
          f'{osp.basename(result["checkpoint"])} on {args.num_test} images: '
          f'{result["test"]:.1f}% (chance: 33.3%).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
