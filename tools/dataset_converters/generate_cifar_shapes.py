"""Generate a synthetic 32x32 classification set in CIFAR's pickle format,
or as PNG files in a folder per split and class (``--format folder``).

The images, the file format and the MD5 caveat are described in
:mod:`mmrla.datasets.synthetic.cifar_shapes`, which does the work; this is
its command line.

Usage:
    python tools/dataset_converters/generate_cifar_shapes.py data/shapes32 \
        --num-train 2000 --num-test 500
    python tools/dataset_converters/generate_cifar_shapes.py data/own_cifar \
        --format folder --num-train 2000 --num-val 200 --num-test 500
"""
import argparse

from mmrla.datasets.synthetic import (CLASSES, FORMATS, write_cifar,
                                      write_image_folders)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a synthetic 32x32 shapes classification set '
        "in CIFAR's python-pickle format.")
    parser.add_argument('out_dir', nargs='?', default='data/shapes32')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-test', type=int, default=500)
    parser.add_argument(
        '--num-val',
        type=int,
        default=200,
        help='validation images (--format folder; the pickle formats hold '
        'validation images out of the training ones instead)')
    parser.add_argument(
        '--format',
        choices=sorted(FORMATS) + ['folder'],
        default='cifar10',
        help='CIFAR pickles, or PNG files in train/, val/ and test/ with a '
        'subfolder per class')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.format == 'folder':
        if min(args.num_train, args.num_val, args.num_test) < 1:
            raise SystemExit('error: --num-train, --num-val and --num-test '
                             'must be at least 1.')
        write_image_folders(args.out_dir, args.num_train, args.num_val,
                            args.num_test, args.seed)
        print(f'Wrote {args.num_train} train, {args.num_val} val and '
              f'{args.num_test} test images ({len(CLASSES)} classes: '
              f'{", ".join(CLASSES)}) to {args.out_dir}/{{train,val,test}}.')
        return
    if args.num_train < len(FORMATS[args.format]['train']) or \
            args.num_test < 1:
        raise SystemExit('error: --num-train must be at least the number of '
                         'train files (5 for cifar10) and --num-test >= 1.')
    folder = write_cifar(args.out_dir, args.num_train, args.num_test,
                         args.format, args.seed)
    print(f'Wrote {args.num_train} train and {args.num_test} test images '
          f'({len(CLASSES)} classes: {", ".join(CLASSES)}) to {folder}.')


if __name__ == '__main__':
    main()
