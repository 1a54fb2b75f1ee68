"""Check the data of a config before queueing a training run.

Reads the annotation files and each image's header (no whole decode) and
prints one line per dataset: how many images, which cannot load (missing,
unreadable, truncated), and what the loaders will drop (images without
annotations, zero-size or outside boxes, files of other extensions). It is
the check that tools/train.py and tools/test.py run before the runner
starts.

Examples:
    python tools/misc/check_data.py configs/own_data/my_coco.py
    python tools/misc/check_data.py configs/own_data/my_folder.py \
        --splits train --cfg-options data_root=/data/photos

Exit status 0 when every image loads, 2 (with one line naming the first
broken files) otherwise.
"""
import argparse
import sys

from mmengine.config import DictAction

from mmrla.cli import (check_data_paths, load_config, main_entry,
                       match_dataset_classes)
from mmrla.cli.data_check import check_data, check_mask_pipeline
from mmrla.datasets.synthetic import accept_generated_cifar


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the images and annotations of a config')
    parser.add_argument('config', help='train or test config file')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['train', 'val', 'test'],
        choices=['train', 'val', 'test'],
        help='dataloaders to check')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs, e.g. '
        'data_root=/data/photos')
    return parser.parse_args(argv)


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    check_data_paths(cfg, args.splits)
    accept_generated_cifar(cfg, args.splits)
    match_dataset_classes(cfg, args.config, args.splits)
    check_mask_pipeline(cfg, args.config)
    reports = check_data(cfg, args.splits)
    if not reports:
        print(f'{args.config}: no dataset of a kind this check reads '
              '(COCO-format files, image folders).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
