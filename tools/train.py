"""Train a classifier (mmpretrain) or a detector (mmdet) from an mmrla
config.

Examples:
    python tools/train.py configs/r50rla_4xb64_in1k.py
    python tools/train.py configs/faster_rcnn_r50rla_fpn_1x_coco.py \
        --work-dir work_dirs/frcnn --resume auto
    bash tools/dist_train.sh configs/faster_rcnn_r50rla_fpn_1x_coco.py 8
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional

from mmrla.cli import (build_runner, check_data_paths, check_model_config,
                       load_config, main_entry, match_dataset_classes,
                       parse_runner_args, set_launcher_and_work_dir)
from mmrla.cli.data_check import (add_skip_broken_argument, check_data,
                                  check_mask_pipeline)
from mmrla.datasets.synthetic import accept_generated_cifar
from mmrla.engine import setup_cpu_distributed
from mmrla.engine.safe_load import CheckpointLoadError
from mmrla.errors import UserError
from mmrla.weights import check_pretrained_weights, check_start_weights


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an mmrla model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a path, from '
        'the latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision training (needs a GPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size')
    add_skip_broken_argument(parser)
    return parse_runner_args(parser, argv)


def merge_args(cfg, args):
    set_launcher_and_work_dir(cfg, args)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise UserError('--amp needs a CUDA GPU; on CPU train without '
                            'it.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if cfg.get('compile') and cfg.get('default_scope') == 'mmdet':
        # mmengine compiles the whole train_step, and dynamo fails inside
        # mmdet 3.x's heads (InstanceData), whatever the backbone.
        raise UserError(
            'compile=True cannot compile an mmdet detector (torch.compile '
            "fails inside mmdet's heads); compile its backbone and neck "
            "instead: add dict(type='CompileBackboneHook') to the config's "
            'custom_hooks (docs/performance.md, "torch.compile").')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise UserError(
                f'{args.config} has no auto_scale_lr.base_batch_size, so '
                '--auto-scale-lr cannot scale the learning rate.')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise UserError(f'--resume checkpoint {args.resume} does not '
                            'exist.')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def world_size(launcher: str) -> int:
    """Processes of this run, from what the launcher exports."""
    if launcher == 'none':
        return 1
    for key in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
        if os.environ.get(key, '').isdigit():
            return int(os.environ[key])
    return 1


def batch_size_note(cfg, launcher: str) -> Optional[str]:
    """One line when the total batch is not the recipe's and the learning
    rate will not be scaled to it, naming the flag that scales it."""
    scale = cfg.get('auto_scale_lr') or {}
    base = scale.get('base_batch_size')
    per_gpu = (cfg.get('train_dataloader') or {}).get('batch_size')
    if not base or not per_gpu or scale.get('enable', False):
        return None
    processes = world_size(launcher)
    total = per_gpu * processes
    if total == base:
        return None
    return (f'note: total batch {total} ({processes} x {per_gpu}) differs '
            f'from the recipe\'s {base} (auto_scale_lr.base_batch_size) and '
            'the learning rate is not scaled; add --auto-scale-lr to scale '
            f'it by {total}/{base}.')


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    # Before the runner logs the environment and the whole config.
    model = check_model_config(cfg, args.config)
    # mmengine initializes weights (Pretrained included) even when it
    # resumes, so the file is needed either way.
    check_pretrained_weights(cfg)
    check_start_weights(cfg, model)
    del model
    # How the processes were started comes first: it decides whether the
    # data checks below run once or on every rank.
    setup_cpu_distributed(cfg, args.launcher)
    splits = ('train', ) if args.no_validate else ('train', 'val')
    check_data_paths(cfg, splits)
    accept_generated_cifar(cfg, splits)
    match_dataset_classes(cfg, args.config, splits)
    check_mask_pipeline(cfg, args.config)
    check_data(cfg, splits, args.skip_broken)
    note = batch_size_note(cfg, args.launcher)
    if note and int(os.environ.get('RANK', 0)) == 0:
        print(note, flush=True)
    runner = build_runner(cfg, args.config)
    try:
        runner.train()
    except CheckpointLoadError as e:  # e.g. a remote init_cfg checkpoint
        raise UserError(str(e)) from e
    return 0


if __name__ == '__main__':
    sys.exit(main())
