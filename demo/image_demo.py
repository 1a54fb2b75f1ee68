"""Classify an image, or every image in a folder, with an mmrla classifier.

Examples:
    python demo/image_demo.py demo/cat.jpg \
        configs/mobilenetv2rla_2xb48_in1k.py checkpoints/rla_mbv2_in1k.pth
    python demo/image_demo.py path/to/images/ \
        configs/r50rla_4xb64_in1k.py checkpoints/rla_resnet50_in1k.pth \
        --topk 5 --device cpu

Prints the top-k classes (ImageNet names unless the checkpoint stores its
own) with their probabilities. The config may be the one the model was
trained with, own-data configs included: the classes, and the head's size,
come from the checkpoint. Checkpoints come from tools/train.py or from
tools/model_converters/rlanet_to_mmrla.py (the authors' weights).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import numpy as np

from mmrla.cli import main_entry
from mmrla.errors import UserError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Classify images with an mmrla classifier and print the '
        'top-k classes.')
    parser.add_argument('img', help='an image file or a folder of images')
    parser.add_argument('config', help='classification config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--topk', type=int, default=5, help='classes to print per image')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per forward pass')
    return parser.parse_args(argv)


def list_images(path: str) -> List[str]:
    if osp.isfile(path):
        return [path]
    if osp.isdir(path):
        return sorted(
            osp.join(path, f) for f in os.listdir(path)
            if f.lower().endswith(IMAGE_EXTENSIONS))
    return []


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    images = list_images(args.img)
    if not images:
        raise UserError(
            f'{args.img} is neither an image nor a folder with images '
            f'({", ".join(IMAGE_EXTENSIONS)}).')
    from mmpretrain.apis import ImageClassificationInferencer, get_model

    from mmrla.cli import explained_build_errors, load_config
    from mmrla.cli.trained_classes import use_trained_classes
    from mmrla.weights import check_checkpoint_exists, load_checked_checkpoint
    cfg = load_config(args.config)
    check_checkpoint_exists(args.checkpoint, args.config)
    # An own-data config keeps the recipe's num_classes; the checkpoint
    # knows its classes.
    use_trained_classes(cfg, args.checkpoint, args.config)
    # Without weights: its class names are the config's dataset's.
    with explained_build_errors(cfg, args.config):
        model = get_model(cfg, device=args.device)
    # Checked before loading: mmengine would list every key of a wrong file,
    # then classify with random weights.
    checkpoint = load_checked_checkpoint(
        model, args.checkpoint, allow_unexpected=False)
    # Class names the checkpoint stores win, as in mmpretrain's get_model.
    meta = checkpoint.get('meta', {})
    if 'dataset_meta' in meta:
        model._dataset_meta = meta['dataset_meta']
    elif 'CLASSES' in meta:
        model._dataset_meta = {'classes': meta['CLASSES']}
    inferencer = ImageClassificationInferencer(model, device=args.device)
    classes = getattr(model, '_dataset_meta', {}).get('classes')
    results = inferencer(images, batch_size=args.batch_size)
    for path, result in zip(images, results):
        scores = np.asarray(result['pred_scores'])
        print(path)
        for rank, label in enumerate(np.argsort(-scores)[:args.topk], 1):
            name = classes[label] if classes else str(label)
            print(f'  {rank}. {name} (class {label}): {scores[label]:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
