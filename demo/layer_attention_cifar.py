"""Train a layer-attention ResNet-20 on synthetic 32x32 shapes on the CPU.

Steps 1-3 are ``demo/cifar_shapes.py``'s:

1. ``tools/dataset_converters/generate_cifar_shapes.py`` writes a
   CIFAR-10-format set of circles, squares and triangles to ``--data``;
2. ``tools/train.py`` trains ``configs/layer_attention/la-resnet20_b128_
   cifar10.py`` on it for ``--epochs`` epochs (the paper's optimizer, lr 0.1
   until the first step at epoch 80, so constant here);
3. ``tools/test.py`` evaluates the last checkpoint;
4. ``tools/visualization/layer_attention.py`` plots the layer attention over
   the test images (``layer_attention_mean.png``, ``..._normalized.png``,
   ``layer_attention.json``) into ``--work-dir``/attention.

mmpretrain's CIFAR10 checks the MD5 sums of the official files, so this
script turns those checks off in its own process before running the tools.

Example:
    python demo/layer_attention_cifar.py --epochs 5
"""
import argparse
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The demo drives the repository's tools in its own process, so that the
# MD5 checks it turns off for the synthetic files stay off for them.
sys.path.insert(0, REPO)
from mmrla.cli import main_entry  # noqa: E402

CONFIG = osp.join(REPO, 'configs', 'layer_attention',
                  'la-resnet20_b128_cifar10.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train LA-ResNet-20 on synthetic 32x32 shapes (CPU), '
        'test it and plot its layer attention.')
    parser.add_argument('--data', default='data/shapes32')
    parser.add_argument('--work-dir', default='work_dirs/la20_shapes32')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-test', type=int, default=500)
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--batch-size', type=int, default=64)
    return parser.parse_args(argv)


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    from demo.cifar_shapes import train_and_test
    from tools.visualization.layer_attention import main as visualize

    result = train_and_test(CONFIG, args.data, args.work_dir, args.num_train,
                            args.num_test, args.epochs, args.batch_size)
    if result is None:
        return 1
    out_dir = osp.join(args.work_dir, 'attention')
    if visualize([
            CONFIG, result['checkpoint'], '--num-images',
            str(args.num_test), '--out-dir', out_dir, *result['options']
    ]):
        return 1
    with open(osp.join(out_dir, 'layer_attention.json')) as f:
        mean = json.load(f)['mean']
    print(f'Trained {args.epochs} epochs in {result["minutes"]:.1f} min; '
          f'test top-1 {result["test"]:.1f}%; layer attention per block: '
          f'{", ".join(f"{v:.2f}" for v in mean)}; figures in {out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
