"""Count the graphs and graph breaks of an mmrla backbone under
``torch.compile`` (``torch._dynamo.explain``).

A graph break splits the compiled model where dynamo cannot trace, and costs
speed; the README states that the RLA backbones compile as one graph.

Example:
    python tools/analysis_tools/dynamo_explain.py              # RLAMobileNetV2
    python tools/analysis_tools/dynamo_explain.py --backbone RLAResNet \\
        --backbone-args depth=50 --size 64 --eval
"""
import argparse
import sys
from typing import List, Optional

import torch
from mmengine.config import DictAction

BACKBONES = ('RLAMobileNetV2', 'RLAResNet', 'LayerAttentionResNet')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Print how many graphs and graph breaks torch.compile '
        'makes of an mmrla backbone, with the reasons of the breaks.')
    parser.add_argument(
        '--backbone',
        default='RLAMobileNetV2',
        choices=BACKBONES,
        help='backbone type (default: RLAMobileNetV2)')
    parser.add_argument(
        '--backbone-args',
        nargs='+',
        action=DictAction,
        default={},
        help='constructor arguments as key=value, e.g. depth=50')
    parser.add_argument(
        '--batch', type=int, default=2, help='batch size (default: 2)')
    parser.add_argument(
        '--size', type=int, default=64, help='image side (default: 64)')
    parser.add_argument(
        '--eval',
        action='store_true',
        help='trace the model in eval mode (default: training mode)')
    return parser.parse_args(argv)


def explain(model: torch.nn.Module, inputs: torch.Tensor):
    """``torch._dynamo.explain`` of ``model`` on ``inputs``: its
    ``graph_count``, ``graph_break_count`` and ``break_reasons``."""
    torch._dynamo.reset()
    return torch._dynamo.explain(model)(inputs)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.batch < 1 or args.size < 1:
        print('error: --batch and --size must be positive.', file=sys.stderr)
        return 2
    from mmrla.models import backbones
    cls = getattr(backbones, args.backbone)
    try:
        model = cls(**args.backbone_args)
    except (TypeError, ValueError, KeyError) as e:
        print(
            f'error: cannot build {args.backbone} with '
            f'{args.backbone_args}: {e}',
            file=sys.stderr)
        return 2
    model.train(not args.eval)
    inputs = torch.rand(args.batch, 3, args.size, args.size)
    result = explain(model, inputs)
    kwargs = ', '.join(f'{k}={v!r}' for k, v in args.backbone_args.items())
    mode = 'eval' if args.eval else 'training'
    print(f'{args.backbone}({kwargs}), {mode} mode, input '
          f'{tuple(inputs.shape)}, torch {torch.__version__}')
    print(f'graphs: {result.graph_count}')
    print(f'graph breaks: {result.graph_break_count}')
    for reason in result.break_reasons:
        print(f'  break: {reason.reason}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
