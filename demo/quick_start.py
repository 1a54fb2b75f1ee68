"""The Quick start demo: RLA detection that learns, on 2 CPU cores.

It generates the synthetic shapes dataset (COCO format) into
``data/shapes/``, trains a Mask R-CNN with an RLA-ResNet-18 backbone through
``tools/train.py``, evaluates COCO bbox and segm mAP on the validation split,
and writes to ``work_dirs/demo/``:

- the checkpoint (``epoch_*.pth``) and mmengine's logs;
- ``metrics.json``: the final COCO metrics;
- ``curves.png``: training loss per iteration and mAP per evaluation;
- ``vis/``: validation images with predicted boxes and masks drawn by
  mmdet's visualizer.

``--baseline`` also trains the same recipe with mmdet's plain ResNet-18
(into ``work_dirs/demo/baseline/``) and prints a side-by-side table.

Usage:
    bash demo/quick_start.sh        # sets up .venv first if needed
    python demo/quick_start.py [--baseline]
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch
from mmengine.config import Config

from mmrla.cli import build_model_without_weights, main_entry
from mmrla.datasets.synthetic import generate_shapes

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RLA_CONFIG = osp.join(ROOT, 'configs/demo/mask_rcnn_r18rla_fpn_shapes.py')
BASELINE_CONFIG = osp.join(ROOT, 'configs/demo/mask_rcnn_r18_fpn_shapes.py')
METRIC_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
               'coco/segm_mAP_50')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the generated dataset')
    parser.add_argument(
        '--train-seed',
        type=int,
        default=0,
        help='mmengine randomness seed of training (weight init, data '
        'order, augmentation); on CPU training also runs deterministic '
        'algorithms, so a run repeats bit for bit on the same machine with '
        'the same number of threads (see docs/detection.md)')
    parser.add_argument(
        '--epochs', type=int, help='override the config\'s max_epochs')
    parser.add_argument(
        '--num-vis', type=int, default=8, help='validation images to draw')
    parser.add_argument(
        '--baseline',
        action='store_true',
        help='also train mmdet\'s ResNet-18 with the same recipe')
    return parser.parse_args(argv)


def ensure_dataset(args) -> None:
    """Generate the dataset unless the same one is already there."""
    spec = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        seed=args.seed)
    stamp = osp.join(args.data_root, 'generation.json')
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == spec:
                print(f'[demo] using the shapes dataset in {args.data_root}')
                return
    print(f'[demo] generating the shapes dataset into {args.data_root}')
    generate_shapes(args.data_root, **spec)
    with open(stamp, 'w') as f:
        json.dump(spec, f)


def train_options(args) -> List[str]:
    """``--cfg-options`` of tools/train.py: the dataset, the seed and, on
    CPU, deterministic algorithms, so that a run repeats exactly."""
    data_root = args.data_root.rstrip('/') + '/'
    options = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'val_evaluator.ann_file={data_root}annotations/instances_val.json',
        f'test_evaluator.ann_file={data_root}annotations/instances_val.json',
        f'randomness.seed={args.train_seed}',
        # PyTorch refuses some CUDA kernels (e.g. the FPN's upsampling
        # backward) under deterministic algorithms; on CPU they all have one.
        f'randomness.deterministic={not torch.cuda.is_available()}',
    ]
    if args.epochs is not None:
        options += [
            f'train_cfg.max_epochs={args.epochs}',
            f'train_cfg.val_interval={max(1, args.epochs // 4)}',
            f'default_hooks.checkpoint.interval={args.epochs}',
        ]
    return options


def train(config: str, work_dir: str, args) -> float:
    """Train through tools/train.py; returns the wall time in seconds."""
    options = train_options(args)
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools/train.py'), config, '--work-dir', work_dir,
        '--cfg-options', *options
    ]
    print(f'[demo] training: {" ".join(cmd)}', flush=True)
    start = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.time() - start


def read_scalars(work_dir: str) -> List[dict]:
    """Records of the newest run's ``vis_data/scalars.json``."""
    files = sorted(glob.glob(osp.join(work_dir, '*/vis_data/scalars.json')))
    if not files:
        raise FileNotFoundError(f'No training log under {work_dir}.')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def final_metrics(records: List[dict]) -> Dict[str, float]:
    evals = [r for r in records if 'coco/bbox_mAP' in r]
    if not evals:
        raise RuntimeError('Training ran no evaluation; nothing to report.')
    return {k: evals[-1][k] for k in METRIC_KEYS if k in evals[-1]}


def plot_curves(records: List[dict],
                out_file: str,
                title: str = 'Mask R-CNN, RLA-ResNet-18, shapes') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    train = [r for r in records if 'loss' in r and 'iter' in r]
    evals = [r for r in records if 'coco/bbox_mAP' in r]
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot([r['iter'] for r in train], [r['loss'] for r in train],
                 label='total')
    for key in ('loss_cls', 'loss_bbox', 'loss_mask', 'loss_rpn_cls'):
        if train and key in train[0]:
            ax_loss.plot([r['iter'] for r in train], [r[key] for r in train],
                         label=key,
                         alpha=0.6)
    ax_loss.set(xlabel='iteration', ylabel='loss', title='training loss')
    ax_loss.legend()
    for key in METRIC_KEYS:
        if evals and key in evals[0]:
            ax_map.plot([r['step'] for r in evals], [r[key] for r in evals],
                        marker='o',
                        label=key.split('/')[1])
    ax_map.set(
        xlabel='epoch', ylabel='mAP', ylim=(0, 1), title='validation COCO mAP')
    ax_map.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def draw_predictions(config: str, checkpoint: str, images: List[str],
                     out_dir: str) -> List[str]:
    """Draw predicted boxes and masks with mmdet's DetInferencer."""
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        model=config, weights=checkpoint, device='cpu', show_progress=False)
    inferencer(images, out_dir=out_dir, pred_score_thr=0.5, no_save_pred=True)
    return sorted(glob.glob(osp.join(out_dir, 'vis', '*')))


def latest_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def run(config: str, work_dir: str, args) -> Dict:
    seconds = train(config, work_dir, args)
    records = read_scalars(work_dir)
    metrics = final_metrics(records)
    plot_curves(
        records,
        osp.join(work_dir, 'curves.png'),
        title=f'{osp.basename(config)[:-3]} on shapes')
    return dict(
        config=osp.relpath(config, ROOT),
        checkpoint=latest_checkpoint(work_dir),
        train_seconds=round(seconds, 1),
        metrics=metrics)


def backbone_params(config: str) -> int:
    cfg = Config.fromfile(config)
    model = build_model_without_weights(cfg)
    return sum(p.numel() for p in model.backbone.parameters())


def print_summary(results: Dict, work_dir: str,
                  baseline: Optional[Dict]) -> None:
    rows = [('RLA-ResNet-18', results)]
    if baseline:
        rows.append(('ResNet-18 (baseline)', baseline))
    print('\n[demo] results on the shapes validation split (COCO metrics)')
    header = ('| backbone | params | bbox mAP | bbox mAP50 | segm mAP | '
              'segm mAP50 | train time |')
    print(header)
    print('|' + '---|' * 7)
    for name, res in rows:
        m = res['metrics']
        print(f"| {name} | {res['backbone_params'] / 1e6:.2f}M | "
              f"{m['coco/bbox_mAP']:.3f} | {m['coco/bbox_mAP_50']:.3f} | "
              f"{m['coco/segm_mAP']:.3f} | {m['coco/segm_mAP_50']:.3f} | "
              f"{res['train_seconds'] / 60:.1f} min |")
    print(f'\n[demo] checkpoint: {results["checkpoint"]}')
    print(f'[demo] metrics:    {osp.join(work_dir, "metrics.json")}')
    print(f'[demo] curves:     {osp.join(work_dir, "curves.png")}')
    print(f'[demo] drawings:   {osp.join(work_dir, "vis")}/')


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    ensure_dataset(args)
    results = run(RLA_CONFIG, args.work_dir, args)
    results['backbone_params'] = backbone_params(RLA_CONFIG)
    summary = dict(rla=results)
    baseline = None
    if args.baseline:
        baseline = run(BASELINE_CONFIG, osp.join(args.work_dir, 'baseline'),
                       args)
        baseline['backbone_params'] = backbone_params(BASELINE_CONFIG)
        summary['baseline'] = baseline
    val_images = sorted(glob.glob(osp.join(args.data_root, 'val',
                                           '*.png')))[:args.num_vis]
    drawn = draw_predictions(RLA_CONFIG, results['checkpoint'], val_images,
                             args.work_dir)
    summary['drawn_images'] = drawn
    with open(osp.join(args.work_dir, 'metrics.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print_summary(results, args.work_dir, baseline)
    return 0


if __name__ == '__main__':
    sys.exit(main())
