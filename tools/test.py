"""Evaluate a checkpoint of an mmrla classifier or detector.

Examples:
    python tools/test.py configs/r50rla_4xb64_in1k.py \
        checkpoints/rla_resnet50_in1k.pth
    python tools/test.py configs/mask_rcnn_r50rla_fpn_1x_coco.py \
        work_dirs/mask_rcnn_r50rla_fpn_1x_coco/epoch_12.pth \
        --out results.pkl --show-dir vis
    bash tools/dist_test.sh configs/faster_rcnn_r50rla_fpn_1x_coco.py \
        epoch_12.pth 8

Before evaluating, the checkpoint must set every weight of the config's
model: a file that misses some (a checkpoint for another config, or one of
the authors' released files before tools/model_converters/rlanet_to_mmrla.py
converted it) is refused with the keys it lacks, or with the converter
command, instead of evaluating a partly random model.
"""
import argparse
import sys

from mmrla.cli import (build_runner, check_data_paths, check_model_config,
                       load_config, main_entry, match_dataset_classes,
                       parse_runner_args, set_launcher_and_work_dir)
from mmrla.cli.data_check import add_skip_broken_argument, check_data
from mmrla.datasets.synthetic import accept_generated_cifar
from mmrla.engine import setup_cpu_distributed
from mmrla.errors import UserError
from mmrla.weights import (check_checkpoint, check_checkpoint_exists,
                           check_converted)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test an mmrla model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file (the authors\' released files: convert them '
        'with tools/model_converters/rlanet_to_mmrla.py first)')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir',
        help='draw the predictions into this folder (under the work dir '
        'of the run)')
    parser.add_argument(
        '--wait-time', type=float, default=0, help='seconds between shows')
    add_skip_broken_argument(parser)
    return parse_runner_args(parser, argv)


def _is_detection(cfg) -> bool:
    return cfg.get('default_scope') == 'mmdet'


def merge_args(cfg, args):
    set_launcher_and_work_dir(cfg, args)
    check_checkpoint_exists(args.checkpoint, args.config)
    # Before the data checks: the command to run comes first.
    check_converted(args.checkpoint)
    cfg.load_from = args.checkpoint
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise UserError(f'--out must be a .pkl file, got {args.out}.')
    if args.show_dir:
        if _is_detection(cfg):
            vis = cfg.default_hooks.visualization
            vis.update(
                draw=True,
                test_out_dir=args.show_dir,
                wait_time=args.wait_time)
        else:
            cfg.default_hooks.visualization = dict(
                type='VisualizationHook',
                enable=True,
                out_dir=args.show_dir,
                wait_time=args.wait_time)
    return cfg


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    # Before the runner logs the environment and the whole config.
    model = check_model_config(cfg, args.config)
    check_data_paths(cfg, ('test', ))
    accept_generated_cifar(cfg, ('test', ))
    if match_dataset_classes(cfg, args.config, ('test', )):
        model = check_model_config(cfg, args.config)
    # A wrong file is refused before mmengine's loader lists every key.
    check_checkpoint(model, args.checkpoint)
    check_data(cfg, ('test', ), args.skip_broken)
    del model
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg, args.config)
    if args.out:
        if _is_detection(cfg):
            from mmdet.evaluation import DumpDetResults
            dumper = DumpDetResults(out_file_path=args.out)
        else:
            from mmengine.evaluator import DumpResults
            dumper = DumpResults(out_file_path=args.out)
        runner.test_evaluator.metrics.append(dumper)
    metrics = runner.test()
    print({
        k: round(v, 4) if isinstance(v, float) else v
        for k, v in metrics.items()
    })
    return 0


if __name__ == '__main__':
    sys.exit(main())
