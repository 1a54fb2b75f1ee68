"""Plot training and validation error per epoch of several training runs.

The layer-attention paper's Figure 3: top-1 training and validation error
of ResNet-56 and RLA-56 on CIFAR-100, one curve per run. Each work
directory is read from the ``vis_data/scalars.json`` files mmengine writes
(every ``<timestamp>/`` of a resumed run, later runs winning an epoch).

- Validation error: ``100 - accuracy/top1`` of each validation epoch.
- Training error: ``100 - accuracy_top-1``, the mean over an epoch's logged
  training iterations. mmpretrain's classification head computes it only
  with ``cal_acc=True`` (off by default, so it costs nothing otherwise):
  train with ``--cfg-options model.head.cal_acc=True``. Without it, only
  the validation curves are drawn.

Writes ``--out`` (PNG) and, beside it, the same curves as JSON.

Example:
    python tools/train.py configs/layer_attention/resnet56_b128_cifar100.py \\
        --cfg-options model.head.cal_acc=True
    python tools/train.py \\
        configs/layer_attention/la-resnet56_b128_cifar100.py \\
        --cfg-options model.head.cal_acc=True
    python tools/visualization/error_curves.py \\
        work_dirs/resnet56_b128_cifar100 work_dirs/la-resnet56_b128_cifar100 \\
        --labels ResNet-56 RLA-56 --out work_dirs/figure3.png
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional

TRAIN_KEY = 'accuracy_top-1'
VAL_KEY = 'accuracy/top1'


class ToolError(Exception):
    """A mistake in the user's input, printed without a traceback."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot the training and validation top-1 error per '
        'epoch of training runs (work directories) in one figure.')
    parser.add_argument(
        'work_dirs', nargs='+', help='work directories of tools/train.py')
    parser.add_argument(
        '--labels', nargs='+', help='one name per work dir (default: names)')
    parser.add_argument(
        '--title', default='Top-1 error', help='title of the figure')
    parser.add_argument(
        '--out', default='work_dirs/error_curves.png', help='PNG to write')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.work_dirs):
        parser.error(f'--labels needs one name per work dir '
                     f'({len(args.work_dirs)}), got {len(args.labels)}.')
    return args


def read_curves(work_dir: str) -> Dict[str, Dict[int, float]]:
    """``{'train': {epoch: error}, 'val': {epoch: error}}`` of a work dir.

    Raises:
        ToolError: If the directory has no logs, or they have no validation
            accuracy and no training accuracy.
    """
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise ToolError(f'{work_dir} has no */vis_data/scalars.json: give '
                        'the --work-dir of a tools/train.py run.')
    train: Dict[int, List[float]] = defaultdict(list)
    val: Dict[int, float] = {}
    for path in files:
        run_train: Dict[int, List[float]] = defaultdict(list)
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                row = json.loads(line)
                if VAL_KEY in row:
                    # mmengine logs a validation at its epoch as the step.
                    val[int(row['step'])] = 100 - float(row[VAL_KEY])
                elif TRAIN_KEY in row and 'epoch' in row:
                    run_train[int(row['epoch'])].append(100 -
                                                        float(row[TRAIN_KEY]))
        train.update(run_train)  # a resumed run redoes whole epochs
    if not val and not train:
        raise ToolError(
            f'{work_dir} logged neither {VAL_KEY!r} (validation) nor '
            f'{TRAIN_KEY!r} (training, with model.head.cal_acc=True).')
    return dict(
        train={
            e: sum(v) / len(v)
            for e, v in sorted(train.items())
        },
        val=dict(sorted(val.items())))


def plot(curves: Dict[str, Dict[str, Dict[int, float]]], title: str,
         path: str) -> None:
    """Solid validation and dashed training curves, one colour per run."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (label, run) in enumerate(curves.items()):
        color = f'C{i}'
        for split, style, name in (('train', '--', 'training'),
                                   ('val', '-', 'validation')):
            if run[split]:
                ax.plot(
                    list(run[split]),
                    list(run[split].values()),
                    style,
                    color=color,
                    label=f'{label} ({name})')
    ax.set_xlabel('Epoch')
    ax.set_ylabel('Top-1 error (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    labels = args.labels or [
        osp.basename(osp.normpath(d)) for d in args.work_dirs
    ]
    try:
        curves = {
            label: read_curves(d)
            for label, d in zip(labels, args.work_dirs)
        }
    except ToolError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    plot(curves, args.title, args.out)
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(curves, f, indent=1)
    for label, run in curves.items():
        last = {
            s: f'{list(run[s].values())[-1]:.2f}%' if run[s] else '-'
            for s in ('train', 'val')
        }
        print(f'{label}: {len(run["val"])} validated epochs, last training '
              f'error {last["train"]}, last validation error {last["val"]}')
    print(f'Wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
