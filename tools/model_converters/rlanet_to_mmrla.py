"""Convert one of the authors' released RLANet checkpoints for mmrla.

Usage:
    python tools/model_converters/rlanet_to_mmrla.py \
        resnet50_rla_2283.pth.tar checkpoints/rla_resnet50_in1k.pth
    python tools/model_converters/rlanet_to_mmrla.py \
        faster_rcnn_r50rla_fpn_1x_coco_388.pth \
        checkpoints/faster_rcnn_r50rla_fpn_1x_coco.pth

Both kinds of released files are recognized by their keys:

- ImageNet checkpoints (``.pth.tar``) become mmpretrain ``ImageClassifier``
  checkpoints: they load into ``configs/*_in1k.py`` with no missing or
  unexpected key, and into the detection configs' backbones through
  ``init_cfg=dict(type='Pretrained', ..., prefix='backbone.')``;
- COCO detectors (mmdet 2.x files of the authors' ``RLA_ResNet``) become
  mmdet 3.x checkpoints that load strictly into
  ``configs/{faster_rcnn,mask_rcnn,retinanet}_r*rla*_fpn_1x_coco.py``, with
  the class names in ``meta['dataset_meta']``. The last block's RLA norm,
  unused by detection, is left out, and the output says so.

Checkpoints of the authors' ablation models (paper, Tables 11 and 15) are
recognized by their keys, except v1 ... v6, whose keys are the released
model's: name their function with ``--arch`` (their ``train.py`` does not
store it), e.g.

    python tools/model_converters/rlanet_to_mmrla.py --arch rlav2_resnet50 \
        model_best.pth.tar checkpoints/rla_v2_resnet50_in1k.pth

The output names the config of ``configs/ablations/`` to load it with.

Keys the released architectures do not have are refused, never dropped.
"""
import argparse
import os
import sys

import torch

from mmrla.converters import (ABLATION_ARCHS, convert_rlanet,
                              convert_rlanet_meta, find_ablation,
                              find_released, strip_module_prefix)
from mmrla.engine.safe_load import CheckpointLoadError, load_checkpoint_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official RLANet checkpoint (ImageNet '
        '.pth.tar or mmdet 2.x COCO detector .pth) to an mmrla checkpoint '
        '(mmpretrain classifier or mmdet 3.x detector).')
    parser.add_argument(
        'src',
        help='official checkpoint, e.g. resnet50_rla_2283.pth.tar or '
        'faster_rcnn_r50rla_fpn_1x_coco_388.pth')
    parser.add_argument(
        'dst',
        help='output path, e.g. checkpoints/rla_resnet50_in1k.pth or '
        'checkpoints/faster_rcnn_r50rla_fpn_1x_coco.pth')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing DST')
    parser.add_argument(
        '--arch',
        choices=sorted(ABLATION_ARCHS),
        metavar='ARCH',
        help="the authors' ablation model (their train.py --arch), needed "
        'for rlav1_resnet50 ... rlav6_resnet50, whose keys equal the '
        "released model's; checked against the keys. Defaults to the "
        "checkpoint's own 'arch'. Choices: " +
        ', '.join(sorted(ABLATION_ARCHS)))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not os.path.isfile(args.src):
        print(f'error: {args.src} does not exist.', file=sys.stderr)
        return 1
    if os.path.exists(args.dst) and not args.force:
        print(
            f'error: {args.dst} exists; pass --force to overwrite it.',
            file=sys.stderr)
        return 1
    try:
        checkpoint = load_checkpoint_file(args.src, map_location='cpu')
    except CheckpointLoadError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    if not isinstance(checkpoint, dict):
        print(
            f'error: {args.src} holds a {type(checkpoint).__name__}, not '
            'a checkpoint dict with a "state_dict" entry.',
            file=sys.stderr)
        return 1
    state_dict = checkpoint.get('state_dict', checkpoint)
    try:
        conversion = convert_rlanet(state_dict)
        ablation = find_ablation(
            strip_module_prefix(state_dict), args.arch
            or checkpoint.get('arch'))
    except ValueError as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    layout = conversion.layout
    meta = {
        'source': os.path.basename(args.src),
        'converted_by': 'mmrla tools/model_converters/rlanet_to_mmrla.py',
        **convert_rlanet_meta(checkpoint, layout)
    }
    if ablation:
        meta['arch'], meta['config'] = ablation[0], ablation[1].config
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': conversion.state_dict, 'meta': meta}, args.dst)
    kind = 'COCO detector' if layout.task == 'detection' else 'ImageNet'
    print(f'Converted {len(conversion.state_dict)} tensors of the RLANet '
          f'{layout.family} {kind} checkpoint {args.src} to {args.dst}.')
    if conversion.dropped:
        norm = conversion.dropped[0].rsplit('.', 1)[0]
        print(f'Left out {len(conversion.dropped)} tensors of {norm}, the '
              "last block's RLA norm: it only updates the hidden state after "
              'the last stage, which no FPN level reads (the authors\' '
              "detector computes it unused), so mmrla's detection backbone "
              'does not build it.')
    if 'dataset_meta' in meta:
        print(f'Class names: {len(meta["dataset_meta"]["classes"])} '
              '(meta.dataset_meta.classes).')
    released = find_released(args.src)
    if released:
        print(f'Evaluate it: python tools/test.py {released.config} '
              f'{args.dst}')
    elif ablation:
        print(f"The authors' ablation model {ablation[0]}: load it with "
              f'{ablation[1].config}')
    elif layout == ('classification', 'resnet') and 'arch' not in checkpoint:
        print("If this is one of the authors' ablations rlav1_resnet50 ... "
              'rlav6_resnet50 (their keys are the released RLA-ResNet-50\'s), '
              'convert it again with --arch.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
