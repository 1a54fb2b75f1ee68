"""Parameter counts of the layer-attention configs beside the paper's.

Builds every config of ``configs/layer_attention/`` (or the given ones) and
prints a Markdown table: our parameter count (the whole classifier or
detector), the paper's count and the paper's errors (CIFAR: top-1 error on
CIFAR-10 or CIFAR-100; ImageNet: top-1/top-5 error; COCO: mAP@.5 /
mAP@[.5,.95]). ``-`` where the paper gives no figure (Table 3 gives errors
only; the detectors' counts are not reported).

Example:
    python tools/analysis_tools/layer_attention_params.py
    python tools/analysis_tools/layer_attention_params.py \\
        configs/layer_attention/la-resnet56_b128_cifar10.py
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Tuple

from mmrla.utils import find_configs, main_entry, markdown_table

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'layer_attention')

# The paper's Table 2 (CIFAR): depth -> params (M) and CIFAR-10 / CIFAR-100
# top-1 errors of ResNet, SE-ResNet and RLA (layer attention).
_TABLE2 = {
    20: ((0.275, 8.75, 32.21), (0.278, 7.96, 31.08), (0.276, 7.48, 31.77)),
    32: ((0.471, 7.51, 31.90), (0.475, 7.32, 30.34), (0.471, 6.83, 29.65)),
    44: ((0.667, 7.17, 31.13), (0.672, 6.64, 29.54), (0.668, 6.68, 28.75)),
    56: ((0.858, 6.97, 29.19), (0.871, 6.30, 28.08), (0.859, 6.40, 27.15)),
    110: ((1.735, 6.61, 28.95), (1.755, 6.04, 27.01), (1.737, 5.92, 26.40)),
}
# Table 1 (ResNet-56 ablations) and Table 3 (M and r studies).
_TABLE1 = {
    'vector': (0.876, 6.28, 27.33),
    'ia': (0.870, 6.42, 28.49),
    'gmp': (0.864, 6.79, 28.87),
    'gap-mlp': (0.871, 6.50, 28.23),
    'gmp-mlp': (0.871, 6.18, 28.73),
    'm2': (None, 6.58, 27.47),
    'm4': (None, 6.42, 27.15),
    'm8': (None, 6.35, 27.92),
    'm16': (None, 6.54, 27.72),
    'r2': (None, 6.32, 28.13),
    'r4': (None, 6.58, 28.06),
    'r8': (None, 6.49, 28.84),
    'r16': (None, 6.54, 28.12),
}
# ImageNet (Table 2, top right): params (M), top-1 / top-5 error.
_IMAGENET = {
    'resnet18': (11.69, '29.61 / 10.47'),
    'la-resnet18': (11.90, '29.35 / 10.31'),
    'resnet50': (25.55, '24.84 / 7.55'),
    'la-resnet50': (28.97, '23.83 / 7.08'),
    'resnet101': (44.54, '22.99 / 6.51'),
    'la-resnet101': (48.24, '22.35 / 6.37'),
}
# COCO 2014 (Table 2, bottom right): mAP@.5 / mAP@[.5,.95].
_COCO = {
    'r50': '47.4 / 27.7',
    'la-r50': '48.2 / 27.8',
    'r101': '50.3 / 30.5',
    'la-r101': '51.2 / 30.7',
}


def _paper_table() -> Dict[str, Tuple[Optional[float], str]]:
    """Config name -> (paper params in M or None, paper errors)."""
    table = {}
    for depth, rows in _TABLE2.items():
        kinds = ('resnet', 'se-resnet', 'la-resnet')
        for kind, (params, e10, e100) in zip(kinds, rows):
            table[f'{kind}{depth}_b128_cifar10'] = (params, f'{e10:.2f}')
            table[f'{kind}{depth}_b128_cifar100'] = (params, f'{e100:.2f}')
    for name, (params, e10, e100) in _TABLE1.items():
        table[f'la-resnet56-{name}_b128_cifar10'] = (params, f'{e10:.2f}')
        table[f'la-resnet56-{name}_b128_cifar100'] = (params, f'{e100:.2f}')
    for name, (params, errors) in _IMAGENET.items():
        table[f'{name}_4xb64_in1k'] = (params, errors)
    for name, maps in _COCO.items():
        table[f'faster-rcnn_{name}_coco2014'] = (None, maps)
    return table


PAPER = _paper_table()


def count_params(config) -> int:
    """Parameters of the model a config (file or ``Config``) builds; no
    weights are loaded."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    scope = cfg.get('default_scope', 'mmpretrain')
    init_default_scope(scope)
    import mmrla.models  # noqa: F401
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    return sum(p.numel() for p in model.parameters())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print the parameter counts of the layer-attention '
        "configs beside the paper's counts and errors (Markdown).")
    parser.add_argument(
        'configs',
        nargs='*',
        help='config files (default: all of configs/layer_attention/)')
    return parser.parse_args(argv)


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    configs = find_configs(args.configs, CONFIG_DIR)
    rows = []
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        paper_params, errors = PAPER.get(name, (None, '-'))
        ours = count_params(config)
        paper = '-' if paper_params is None else f'{paper_params:.3f}M' \
            if paper_params < 10 else f'{paper_params:.2f}M'
        rows.append([name, f'{ours:,} ({ours / 1e6:.3f}M)', paper, errors])
    header = ['config', 'params (ours)', 'params (paper)', 'paper error']
    print('\n'.join(markdown_table(header, rows)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
