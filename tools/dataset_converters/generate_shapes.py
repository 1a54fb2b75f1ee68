"""Generate the deterministic "shapes" instance segmentation dataset.

Circles, squares and triangles on textured backgrounds, with COCO
annotations; see :mod:`mmrla.datasets.synthetic.shapes` for what is drawn
and the layout written.

Usage:
    python tools/dataset_converters/generate_shapes.py data/shapes \
        --num-train 300 --num-val 50 --size 128 --seed 0
"""
import argparse

from mmrla.datasets.synthetic import generate_shapes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic shapes dataset (COCO format).')
    parser.add_argument('out_dir', nargs='?', default='data/shapes')
    parser.add_argument('--num-train', type=int, default=300)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.size < 64 or args.num_train < 1 or args.num_val < 1:
        raise SystemExit('error: --size must be >= 64 and the splits must '
                         'hold at least one image each.')
    files = generate_shapes(args.out_dir, args.num_train, args.num_val,
                            args.size, args.seed)
    print(f'Wrote {args.num_train} train and {args.num_val} val images to '
          f'{args.out_dir} ({", ".join(files.values())}).')


if __name__ == '__main__':
    main()
