"""Convert an official RLANet ImageNet checkpoint to an mmpretrain one.

Usage:
    python tools/model_converters/rlanet_to_mmrla.py \
        resnet50_rla_2283.pth.tar checkpoints/rla_resnet50_in1k.pth

The result loads into ``configs/r50rla_4xb64_in1k.py`` (and the other
classification configs) with no missing or unexpected keys, and into the
detection configs through ``init_cfg=dict(type='Pretrained', ...,
prefix='backbone.')``.

Checkpoints of the authors' ablation models (paper, Tables 11 and 15) are
recognized by their keys, except v1 ... v6, whose keys are the released
model's: name their function with ``--arch`` (their ``train.py`` does not
store it), e.g.

    python tools/model_converters/rlanet_to_mmrla.py --arch rlav2_resnet50 \
        model_best.pth.tar checkpoints/rla_v2_resnet50_in1k.pth

The output names the config of ``configs/ablations/`` to load it with.
"""
import argparse
import os
import sys

import torch

from mmrla.converters import (ABLATION_ARCHS, convert_rlanet_state_dict,
                              find_ablation, strip_module_prefix)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official RLANet checkpoint (.pth.tar) to an '
        'mmpretrain ImageClassifier checkpoint for mmrla.')
    parser.add_argument(
        'src', help='official checkpoint, e.g. '
        'resnet50_rla_2283.pth.tar')
    parser.add_argument(
        'dst', help='output path, e.g. '
        'checkpoints/rla_resnet50_in1k.pth')
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
        checkpoint = torch.load(
            args.src, map_location='cpu', weights_only=True)
    except Exception as e:  # pickle errors carry no hint about the cause
        print(
            f'error: cannot load {args.src} safely as a PyTorch '
            f'checkpoint ({type(e).__name__}: {e}).',
            file=sys.stderr)
        return 1
    if not isinstance(checkpoint, dict):
        print(
            f'error: {args.src} holds a {type(checkpoint).__name__}, not '
            'a checkpoint dict with a "state_dict" entry.',
            file=sys.stderr)
        return 1
    state_dict = checkpoint.get('state_dict', checkpoint)
    arch = args.arch or checkpoint.get('arch')
    try:
        converted = convert_rlanet_state_dict(state_dict)
        ablation = find_ablation(strip_module_prefix(state_dict), arch)
    except ValueError as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    meta = {
        'source': os.path.basename(args.src),
        'converted_by': 'mmrla tools/model_converters/rlanet_to_mmrla.py'
    }
    for key in ('arch', 'epoch', 'best_acc1'):
        if key in checkpoint:
            value = checkpoint[key]
            meta[key] = value.item() if torch.is_tensor(value) else value
    if ablation:
        meta['arch'], meta['config'] = ablation[0], ablation[1].config
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': converted, 'meta': meta}, args.dst)
    print(f'Converted {len(converted)} tensors from {args.src} to '
          f'{args.dst}.')
    if ablation:
        print(f"The authors' ablation model {ablation[0]}: load it with "
              f'{ablation[1].config}')
    elif 'arch' not in checkpoint:
        print('The keys are those of the released RLA-ResNet, and also of '
              'the ablations rlav1_resnet50 ... rlav6_resnet50; if it is one '
              'of them, convert it again with --arch.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
