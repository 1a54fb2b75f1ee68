"""Parameters and FLOPs of the RLA-Net CIFAR configs beside the paper's.

Builds every config under ``configs/cifar/`` (recursively) or the given
ones and prints a Markdown table: our parameters and FLOPs (MACs of one
32x32 image, counted as ``tools/analysis_tools/get_flops.py`` counts them),
the paper's, what RLA (or the variant) adds to its baseline, ours and the
paper's, and the paper's top-1 test error (%) on CIFAR-10 or CIFAR-100.
Ours are in decimal units (M = 10^6), with the exact count. ``-`` where the
paper gives no figure, or the baseline config is absent.

The paper's figures: Table 2 (ResNet-110, ResNet-164 and the thin Xception
with and without RLA; errors of the authors' re-implementations, the RLA
rows' counts are the baseline's plus the "+Params/+FLOPs" columns), Table 11
(the RLA-ResNet-164 ablations on CIFAR-10; ConvGRU has no CIFAR row),
Table 13 (RLA channels k) and Table 1 (DenseNet-BC and its shared-1x1
simplifications).

Example:
    python tools/analysis_tools/cifar_params.py
    python tools/analysis_tools/cifar_params.py \\
        configs/cifar/r110_b128_cifar10.py \\
        configs/cifar/r110rla_b128_cifar10.py
"""
import argparse
import glob
import os.path as osp
import sys
from typing import Dict, NamedTuple, Optional

from mmrla.utils import UserError, find_configs, main_entry, markdown_table

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# get_flops.py's counting is imported from the repository's tools.
sys.path.insert(0, REPO)
CONFIG_DIR = osp.join(REPO, 'configs', 'cifar')


class PaperRow(NamedTuple):
    """A config's figures in the paper (M = 10^6 as printed; None where
    the paper gives none)."""
    table: str
    params: Optional[float]
    flops: Optional[float]
    error: Optional[float]
    baseline: Optional[str] = None


def _paper_table() -> Dict[str, PaperRow]:
    table = {}
    # Table 2: baseline params, FLOPs, re-implemented error; what RLA adds
    # (params, FLOPs) and RLA's error.
    table2 = {
        ('r110', 'cifar10'): (1.73, 8.67, 6.35, 0.07, 0.37, 5.88),
        ('r164', 'cifar10'): (1.72, 8.55, 5.72, 0.02, 0.19, 4.95),
        ('xception', 'cifar10'): (2.70, 13.54, 6.03, 0.07, 0.33, 5.78),
        ('r110', 'cifar100'): (1.74, 8.69, 28.51, 0.07, 0.38, 27.44),
        ('r164', 'cifar100'): (1.74, 8.67, 25.22, 0.02, 0.19, 23.78),
        ('xception', 'cifar100'): (2.75, 13.77, 24.31, 0.06, 0.33, 24.00),
    }
    for (model, data), (params, flops, error, d_params, d_flops,
                        rla_error) in table2.items():
        base = f'{model}_b128_{data}'
        table[base] = PaperRow('2', params, flops, error)
        table[f'{model}rla_b128_{data}'] = PaperRow(
            '2', round(params + d_params, 2), round(flops + d_flops, 2),
            rla_error, base)
    # Table 11 (and 15 for the unshared FLOPs), Table 13: RLA-ResNet-164
    # variants on CIFAR-10 beside ResNet-164.
    ablations = {
        'r164-channel12': ('11', 1.93, None, 5.27),
        'r164rla-unshared': ('11, 15', 1.90, 8.74, 5.17),
        'r164rla-no-exchange': ('11', 1.72, None, 5.51),
        'r164rla-convlstm': ('11', 1.77, None, 5.36),
        'r164rla-convgru': ('-', None, None, None),
        'r164rla-postact': ('11', 1.74, None, 5.39),
        'r164rla-v2': ('11', 1.74, None, 5.53),
        'r164rla-v3': ('11', 1.74, None, 5.13),
        'r164rla-v4': ('11', 1.74, None, 5.35),
        'r164rla-v5': ('11', 1.74, None, 5.00),
        'r164rla-v6': ('11', 1.74, None, 5.62),
        'r164rla-k8': ('13', 1.73, None, 4.98),
        'r164rla-k16': ('13', 1.75, None, 5.28),
        'r164rla-k24': ('13', 1.78, None, 5.14),
    }
    for name, (number, params, flops, error) in ablations.items():
        table[f'{name}_b128_cifar10'] = PaperRow(number, params, flops, error,
                                                 'r164_b128_cifar10')
    # Table 1: DenseNet-BC (L=100, k=12) and its shared 1x1 convolutions.
    dense = 'densenet-bc100_b128_cifar10'
    table[dense] = PaperRow('1', 0.80, None, 5.80)
    table['densenet-bc100-shared-lag_b128_cifar10'] = PaperRow(
        '1', 0.60, None, 6.22, dense)
    table['densenet-bc100-shared-ordinal_b128_cifar10'] = PaperRow(
        '1', 0.60, None, 6.29, dense)
    return table


PAPER = _paper_table()
HEADER = [
    'config', 'paper table', 'params', 'params (paper)', 'FLOPs',
    'FLOPs (paper)', '+params vs baseline (ours / paper)',
    '+FLOPs vs baseline (ours / paper)', 'paper error (%)'
]


def _m(value: Optional[float], sign: str = '', digits: int = 2) -> str:
    """``value`` in M, or ``-``."""
    return '-' if value is None else f'{value:{sign}.{digits}f}M'


def _delta(ours: Optional[int], paper: Optional[float]) -> str:
    ours_m = None if ours is None else ours / 1e6
    return f'{_m(ours_m, "+", 3)} / {_m(paper, "+")}'


class Counter:
    """Counts the configs' models once each (a baseline serves several
    rows)."""

    def __init__(self, shape=(32, 32)):
        self.shape = shape
        self.cache = {}

    def __call__(self, config: str) -> dict:
        config = osp.abspath(config)
        if config not in self.cache:
            from mmrla.utils import load_config
            from tools.analysis_tools.get_flops import count
            self.cache[config] = count(load_config(config), self.shape)
        return self.cache[config]


def _find(name: str, folder: str) -> Optional[str]:
    """The config file called ``name`` under ``folder``, if any."""
    found = glob.glob(osp.join(folder, '**', name + '.py'), recursive=True)
    return sorted(found)[0] if found else None


def table_rows(configs, config_dir: str = CONFIG_DIR):
    """One row of cells (``HEADER``) per config, in the order given."""
    counter = Counter()
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        paper = PAPER.get(name, PaperRow('-', None, None, None))
        ours = counter(config)
        d_params = d_flops = paper_d_params = paper_d_flops = None
        if paper.baseline:
            base = PAPER[paper.baseline]
            # Next to the config first, else anywhere in the config folder.
            base_file = _find(paper.baseline, osp.dirname(config)) or \
                _find(paper.baseline, config_dir)
            if base_file:
                base_count = counter(base_file)
                d_params = ours['params'] - base_count['params']
                d_flops = ours['flops'] - base_count['flops']
            if paper.params is not None and base.params is not None:
                paper_d_params = round(paper.params - base.params, 2)
            if paper.flops is not None and base.flops is not None:
                paper_d_flops = round(paper.flops - base.flops, 2)
        yield [
            name, paper.table,
            f'{ours["params"]:,} ({ours["params"] / 1e6:.3f}M)',
            _m(paper.params), f'{ours["flops"] / 1e6:.2f}M',
            _m(paper.flops),
            '-' if not paper.baseline else _delta(d_params, paper_d_params),
            '-' if not paper.baseline else _delta(d_flops, paper_d_flops),
            '-' if paper.error is None else f'{paper.error:.2f}'
        ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print the parameters and FLOPs of the RLA-Net CIFAR '
        "configs beside the paper's figures and errors (Markdown).")
    parser.add_argument(
        'configs',
        nargs='*',
        help='config files (default: every config under configs/cifar/)')
    parser.add_argument(
        '--config-dir',
        default=CONFIG_DIR,
        help='where to look for the configs (without CONFIGS) and for the '
        'baselines the RLA deltas need (default: configs/cifar)')
    return parser.parse_args(argv)


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    configs = find_configs(args.configs, args.config_dir)
    if not configs:
        raise UserError(f'no config under {args.config_dir}')
    # The paper's order (tables 2, 11, 13, 1), then the others.
    order = {name: i for i, name in enumerate(PAPER)}
    configs = sorted(
        configs,
        key=lambda c:
        (order.get(osp.splitext(osp.basename(c))[0], len(order)), c))
    lines = markdown_table(HEADER, table_rows(configs, args.config_dir))
    print('\n'.join(lines))
    print('\nOurs: exact counts, M = 10^6; FLOPs are multiply-accumulates '
          'of one 32x32 image, as tools/analysis_tools/get_flops.py CONFIG '
          '--shape 32 counts them. The paper\'s figures are as printed.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
