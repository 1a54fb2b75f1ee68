"""Parameters and FLOPs of every model of both papers beside their figures.

One Markdown table per family, one row per row of the papers' tables:
our exact count (parameters; FLOPs as multiply-accumulates of one image,
counted as ``tools/analysis_tools/get_flops.py`` counts them), the paper's
figure as printed, what the model adds to its baseline (ours / the
paper's), the paper's error, and whether ours rounds to the paper's figure.

Families (``--family``):

- ``imagenet``: RLA-Net Table 3 (ResNet-50/101/152 and MobileNetV2 with
  +RLA, +SE, +CBAM, +ECA, +ECA+RLA), Table 11's ImageNet ablations and
  Table 15's ImageNet rows; 224x224 inputs; ours in the paper's units
  (thop's ``clever_format``: M = 2^20, G = 2^30). Rows of models that are
  not part of mmrla (CBAM, MobileNetV2 +SE and +ECA) print the paper's
  figures only.
- ``cifar``: RLA-Net Tables 1, 2, 11 (CIFAR), 13 and 15 (CIFAR); 32x32
  inputs; decimal units (the paper's CIFAR counts are decimal).
- ``layer-attention``: the layer-attention paper's Tables 1-3 (CIFAR
  ablations, CIFAR/ImageNet/COCO comparisons, the M and r studies);
  parameters only (the paper gives no FLOPs); decimal units.

``docs/paper_tables.md`` explains each row where ours and the paper's
differ.

Examples:
    python tools/analysis_tools/paper_tables.py            # every family
    python tools/analysis_tools/paper_tables.py --family imagenet
    python tools/analysis_tools/paper_tables.py \\
        configs/cifar/r110_b128_cifar10.py \\
        configs/cifar/r110rla_b128_cifar10.py
"""
import argparse
import glob
import math
import os.path as osp
import sys
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

from mmrla.cli import main_entry

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# get_flops.py's counting is imported from the repository's tools.
sys.path.insert(0, REPO)

HEADER = [
    'config', 'paper table', 'params', 'params (paper)', 'FLOPs',
    'FLOPs (paper)', '+params vs baseline (ours / paper)',
    '+FLOPs vs baseline (ours / paper)', 'paper error (%)', 'agrees'
]


class PaperRow(NamedTuple):
    """A row of a paper's table.

    ``params``/``flops`` are the paper's figures in the family's units
    (M, and M or G as printed); ``config`` is a path under the repository,
    a package config (``mmpretrain::...``) or None (not part of mmrla);
    ``options`` override the config; ``baseline`` names the row the
    increments are taken against.
    """
    table: str
    params: Optional[float]
    flops: Optional[float]
    error: Optional[str]
    baseline: Optional[str] = None
    config: Optional[str] = None
    options: Optional[dict] = None


class Family(NamedTuple):
    """A group of rows counted alike."""
    name: str
    config_dir: str
    shape: tuple
    binary: bool  # paper units: M = 2^20, G = 2^30 (thop), else 10^6
    count_flops: bool
    rows: Dict[str, PaperRow]


def _imagenet_rows() -> Dict[str, PaperRow]:
    rows = {}
    mmpre = 'mmpretrain::{}_8xb32_in1k.py'.format
    # Table 3: (depth, params, FLOPs, error) per model; G.
    resnets = {
        50: [(24.37, 3.83, '24.70 / 7.80'), (24.67, 4.17, '22.83 / 6.58'),
             (26.77, 3.84, '23.29 / 6.62'), (26.77, 3.84, '22.66 / 6.31'),
             (24.37, 3.83, '22.52 / 6.32'), (24.67, 4.18, '22.15 / 6.11')],
        101: [(42.49, 7.30, '23.60 / 7.10'), (42.92, 7.79, '21.48 / 5.80'),
              (47.01, 7.31, '22.38 / 6.07'), (47.01, 7.31, '21.51 / 5.67'),
              (42.49, 7.30, '21.35 / 5.66'), (42.92, 7.80, '21.13 / 5.61')],
        152: [(57.40, 10.77, '23.00 / 6.70'), (57.96, 11.47, '21.22 / 5.65'),
              (63.68, 10.78, '21.57 / 5.73'), None,
              (57.41, 10.78, '21.08 / 5.45'), (57.96, 11.48, '20.66 / 5.49')],
    }
    for depth, figures in resnets.items():
        base = f'resnet{depth}_8xb32_in1k'
        se_options = {'model.backbone.depth': 152} if depth == 152 else None
        models = [
            (base, mmpre(f'resnet/resnet{depth}'), None),
            (f'r{depth}rla_4xb64_in1k', f'configs/r{depth}rla_4xb64_in1k.py',
             None),
            (f'seresnet{depth}_8xb32_in1k',
             mmpre('seresnet/seresnet101' if depth ==
                   152 else f'seresnet/seresnet{depth}'), se_options),
            (f'cbam-resnet{depth}', None, None),
            (f'r{depth}eca_4xb64_in1k', f'configs/r{depth}eca_4xb64_in1k.py',
             None),
            (f'r{depth}rlaeca_4xb64_in1k',
             f'configs/r{depth}rlaeca_4xb64_in1k.py', None),
        ]
        for (name, config, options), fig in zip(models, figures):
            if fig is not None:
                # Table 15 repeats RLA-ResNet-50/101 beside their unshared
                # variants.
                number = '3, 15' if name in ('r50rla_4xb64_in1k',
                                             'r101rla_4xb64_in1k') else '3'
                rows[name] = PaperRow(number, fig[0], fig[1], fig[2],
                                      None if name == base else base, config,
                                      options)
    mobile = 'mobilenet-v2_8xb32_in1k'
    for name, config, fig in (
        (mobile, 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
         (3.34, 299.6, '28.36 / 9.80')),
        ('mobilenetv2rla_2xb48_in1k', 'configs/mobilenetv2rla_2xb48_in1k.py',
         (3.46, 351.8, '27.68 / 9.18')),
        ('se-mobilenetv2', None, (3.51, 300.3, '27.58 / 9.33')),
        ('eca-mobilenetv2', None, (3.34, 300.1, '27.44 / 9.19')),
        ('mobilenetv2rlaeca_2xb48_in1k',
         'configs/mobilenetv2rlaeca_2xb48_in1k.py', (3.46, 352.4,
                                                     '27.07 / 8.89')),
    ):
        rows[name] = PaperRow('3', fig[0], fig[1], fig[2],
                              None if name == mobile else mobile, config)
    # Table 11, ImageNet (section 4.4): ResNet-50 ablations.
    ablation = 'configs/ablations/{}_4xb64_in1k.py'.format
    for name, params, flops, error in (
        ('r50_channel32', 25.55, 4.24, '23.54 / 6.72'),
        ('r50rla_unshared', 25.12, 4.17, '22.93 / 6.61'),
        ('r50rla_noexchange', 24.56, 4.11, '23.42 / 6.90'),
        ('r50rla_convlstm', 24.92, 5.00, '22.92 / 6.53'),
        ('r50rla_postact', 24.67, 4.17, '23.11 / 6.65'),
        ('r50rla_v1', 24.67, 4.17, '22.83 / 6.58'),
        ('r50rla_v2', 24.67, 4.17, '23.24 / 6.61'),
        ('r50rla_v3', 24.67, 4.17, '22.95 / 6.54'),
        ('r50rla_v4', 24.67, 4.17, '23.36 / 6.72'),
        ('r50rla_v5', 24.67, 4.17, '23.30 / 6.60'),
        ('r50rla_v6', 24.67, 4.17, '23.50 / 6.82'),
    ):
        rows[f'{name}_4xb64_in1k'] = PaperRow(
            '11, 15' if name == 'r50rla_unshared' else '11', params, flops,
            error, 'resnet50_8xb32_in1k', ablation(name))
    # Table 15: RLA-ResNet-101 without sharing (accuracies as errors).
    rows['r101rla_unshared_4xb64_in1k'] = PaperRow(
        '15', 44.05, 7.79, '21.76 / 6.03', 'resnet101_8xb32_in1k',
        ablation('r101rla_unshared'))
    return rows


def _cifar_rows() -> Dict[str, PaperRow]:
    rows = {}
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
        rows[base] = PaperRow('2', params, flops, f'{error:.2f}')
        # RLA-ResNet-164 on CIFAR-10 is also the proposed row of Tables
        # 11, 13 (k = 12) and 15.
        number = '2, 11, 13, 15' if (model, data) == ('r164',
                                                      'cifar10') else '2'
        rows[f'{model}rla_b128_{data}'] = PaperRow(number,
                                                   round(params + d_params, 2),
                                                   round(flops + d_flops, 2),
                                                   f'{rla_error:.2f}', base)
    # Table 11 (and 15 for the unshared FLOPs), Table 13: RLA-ResNet-164
    # variants on CIFAR-10 beside ResNet-164.
    for name, (number, params, flops, error) in {
            'r164-channel12': ('11', 1.93, None, 5.27),
            'r164rla-unshared': ('11, 15', 1.90, 8.74, 5.17),
            'r164rla-no-exchange': ('11', 1.72, None, 5.51),
            'r164rla-convlstm': ('11', 1.77, None, 5.36),
            'r164rla-convgru': ('-', None, None, None),
            'r164rla-postact': ('11', 1.74, None, 5.39),
            'r164-dpn': ('11', 2.13, None, 5.99),
            'r164rla-v2': ('11', 1.74, None, 5.53),
            'r164rla-v3': ('11', 1.74, None, 5.13),
            'r164rla-v4': ('11', 1.74, None, 5.35),
            'r164rla-v5': ('11', 1.74, None, 5.00),
            'r164rla-v6': ('11', 1.74, None, 5.62),
            'r164rla-k8': ('13', 1.73, None, 4.98),
            'r164rla-k16': ('13', 1.75, None, 5.28),
            'r164rla-k24': ('13', 1.78, None, 5.14),
    }.items():
        rows[f'{name}_b128_cifar10'] = PaperRow(
            number, params, flops, None if error is None else f'{error:.2f}',
            'r164_b128_cifar10')
    # Table 1: DenseNet-BC (L=100, k=12) and its shared 1x1 convolutions.
    dense = 'densenet-bc100_b128_cifar10'
    rows[dense] = PaperRow('1', 0.80, None, '5.80')
    rows['densenet-bc100-shared-lag_b128_cifar10'] = PaperRow(
        '1', 0.60, None, '6.22', dense)
    rows['densenet-bc100-shared-ordinal_b128_cifar10'] = PaperRow(
        '1', 0.60, None, '6.29', dense)
    return rows


def _layer_attention_rows() -> Dict[str, PaperRow]:
    rows = {}
    # Table 2 (CIFAR): depth -> params (M) and CIFAR-10 / CIFAR-100 top-1
    # errors of ResNet, SE-ResNet and RLA (layer attention).
    table2 = {
        20: ((0.275, 8.75, 32.21), (0.278, 7.96, 31.08), (0.276, 7.48, 31.77)),
        32: ((0.471, 7.51, 31.90), (0.475, 7.32, 30.34), (0.471, 6.83, 29.65)),
        44: ((0.667, 7.17, 31.13), (0.672, 6.64, 29.54), (0.668, 6.68, 28.75)),
        56: ((0.858, 6.97, 29.19), (0.871, 6.30, 28.08), (0.859, 6.40, 27.15)),
        110:
        ((1.735, 6.61, 28.95), (1.755, 6.04, 27.01), (1.737, 5.92, 26.40)),
    }
    for depth, figures in table2.items():
        for data, i in (('cifar10', 1), ('cifar100', 2)):
            base = f'resnet{depth}_b128_{data}'
            for kind, fig in zip(('resnet', 'se-resnet', 'la-resnet'),
                                 figures):
                name = f'{kind}{depth}_b128_{data}'
                rows[name] = PaperRow('2', fig[0], None, f'{fig[i]:.2f}',
                                      None if name == base else base)
    # Table 1 (ResNet-56 ablations; its backbone row is 0.862M, Table 2's
    # ResNet-56 0.858M) and Table 3 (M and r studies: errors only).
    for name, (number, params, e10, e100) in {
            'vector': ('1', 0.876, 6.28, 27.33),
            'ia': ('1', 0.870, 6.42, 28.49),
            'gmp': ('1', 0.864, 6.79, 28.87),
            'gap-mlp': ('1', 0.871, 6.50, 28.23),
            'gmp-mlp': ('1', 0.871, 6.18, 28.73),
            'm2': ('3', None, 6.58, 27.47),
            'm4': ('3', None, 6.42, 27.15),
            'm8': ('3', None, 6.35, 27.92),
            'm16': ('3', None, 6.54, 27.72),
            'r2': ('3', None, 6.32, 28.13),
            'r4': ('3', None, 6.58, 28.06),
            'r8': ('3', None, 6.49, 28.84),
            'r16': ('3', None, 6.54, 28.12),
            'vector-m4': ('C', None, None, None),
    }.items():
        for data, error in (('cifar10', e10), ('cifar100', e100)):
            rows[f'la-resnet56-{name}_b128_{data}'] = PaperRow(
                number, params, None,
                None if error is None else f'{error:.2f}',
                f'resnet56_b128_{data}')
    # Table 2, ImageNet: params (printed a factor 10 too small, e.g.
    # "1.169M" for ResNet-18's 11.69M), top-1 / top-5 error.
    for depth, figures in {
            18: ((11.69, '29.61 / 10.47'), (11.78, '28.81 / 9.83'),
                 (11.90, '29.35 / 10.31')),
            50: ((25.55, '24.84 / 7.55'), (28.08, '23.64 / 7.03'),
                 (28.97, '23.83 / 7.08')),
            101: ((44.54, '22.99 / 6.51'), (49.33, '21.93 / 6.14'),
                  (48.24, '22.35 / 6.37')),
    }.items():
        base = f'resnet{depth}_4xb64_in1k'
        for kind, (params, errors) in zip(('resnet', 'se-resnet', 'la-resnet'),
                                          figures):
            name = f'{kind}{depth}_4xb64_in1k'
            rows[name] = PaperRow('2', params, None, errors,
                                  None if name == base else base)
    # Table 2, COCO 2014: mAP@.5 / mAP@[.5,.95]; no counts.
    for name, maps in (('r50', '47.4 / 27.7'), ('la-r50', '48.2 / 27.8'),
                       ('r101', '50.3 / 30.5'), ('la-r101', '51.2 / 30.7')):
        rows[f'faster-rcnn_{name}_coco2014'] = PaperRow('2', None, None, maps)
    return rows


FAMILIES = {
    f.name: f
    for f in (
        Family('imagenet', osp.join(REPO, 'configs'), (
            224, 224), True, True, _imagenet_rows()),
        Family('cifar', osp.join(REPO, 'configs', 'cifar'), (
            32, 32), False, True, _cifar_rows()),
        Family('layer-attention', osp.join(REPO, 'configs', 'layer_attention'),
               (32, 32), False, False, _layer_attention_rows()),
    )
}
# Rows where ours and the paper's differ, with the reason (details in
# docs/paper_tables.md).
NOTES = {
    'r164_b128_cifar10':
    "the paper's 1.72M is not its RLA total 1.74M minus its +0.02M",
    'r164_b128_cifar100':
    "the paper's 1.74M is not its RLA total 1.76M minus its +0.02M",
    'r164rla-no-exchange_b128_cifar10':
    'the baseline plus 0.011M, as the paper\'s would be above its 1.72M',
    'xceptionrla_b128_cifar10':
    'k = 16, depthwise: +0.062M for the paper\'s +0.07M',
    'densenet-bc100_b128_cifar10':
    "the paper's 0.80M is Huang et al.'s one-decimal 0.8M",
    'densenet-bc100-shared-lag_b128_cifar10':
    'sharing saves 0.181M of our 0.769M DenseNet-BC',
    'densenet-bc100-shared-ordinal_b128_cifar10':
    'sharing saves 0.181M of our 0.769M DenseNet-BC',
    'mobilenetv2rlaeca_2xb48_in1k':
    '0.1M (0.03%) below; ECA adds 0.55M of pooling to our 351.75M',
    'seresnet50_8xb32_in1k':
    "mmpretrain's SE convs have 16,048 biases; without them 26.77M",
    'seresnet101_8xb32_in1k':
    "mmpretrain's SE convs have 34,544 biases; without them 47.01M",
    'seresnet152_8xb32_in1k':
    "mmpretrain's SE convs have 50,864 biases; without them 63.68M",
    'r152eca_4xb64_in1k':
    '57.4045M; 57.41M is 523 parameters more than ECA can add',
}
# What a family's FLOPs column compares, printed under its table.
FAMILY_NOTES = {
    'cifar':
    "The paper's CIFAR FLOPs are not multiply-accumulates of a 32x32 image "
    '(ResNet-110 takes 255M, the paper prints 8.67M; no input size gives '
    'all its figures): only the parameters compare.',
    'layer-attention':
    "The paper's CIFAR counts scatter around those of any one architecture "
    '(all within 1.5% of ours; LayerAttentionResNet\'s docstring derives '
    'M and r from them); its ImageNet counts are truncated.',
}


def _find(name: str, folder: str) -> Optional[str]:
    """The config file called ``name`` under ``folder``, if any."""
    found = glob.glob(osp.join(folder, '**', name + '.py'), recursive=True)
    return sorted(found)[0] if found else None


class Counter:
    """Counts each (config, options) once (a baseline serves many rows)."""

    def __init__(self) -> None:
        self.cache = {}

    def __call__(self, config: str, family: Family,
                 options: Optional[dict]) -> dict:
        key = (osp.abspath(config) if '::' not in config else config,
               repr(sorted((options or {}).items())), family.count_flops)
        if key not in self.cache:
            from mmrla.cli import load_config
            from tools.analysis_tools.get_flops import count, count_params
            cfg = load_config(config, options)
            self.cache[key] = count(cfg, family.shape) \
                if family.count_flops else dict(params=count_params(cfg),
                                                flops=None)
        return self.cache[key]


def _fmt_params(n: Optional[float], binary: bool, sign: str = '') -> str:
    if n is None:
        return '-'
    return f'{n / 2**20:{sign}.2f}M' if binary else f'{n / 1e6:{sign}.3f}M'


def _fmt_flops(n: Optional[float],
               binary: bool,
               giga: bool,
               sign: str = '') -> str:
    if n is None:
        return '-'
    if binary:
        return f'{n / 2**30:{sign}.2f}G' if giga else \
            f'{n / 2**20:{sign}.1f}M'
    return f'{n / 1e6:{sign}.2f}M'


def _paper(value: Optional[float],
           unit: str,
           digits: int,
           sign: str = '') -> str:
    return '-' if value is None else f'{value:{sign}.{digits}f}{unit}'


def _agrees(ours: dict, row: PaperRow, family: Family, giga: bool,
            digits: int) -> str:
    """``yes`` where every paper figure of the row is ours rounded as the
    paper prints it, else what differs."""
    checks = []
    truncated = False
    if row.params is not None:
        ours_m = ours['params'] / (2**20 if family.binary else 1e6)
        rounded = round(ours_m, digits) == round(row.params, digits)
        # The layer-attention paper truncates its ImageNet counts.
        truncated = not rounded and math.floor(ours_m * 10**digits) == round(
            row.params * 10**digits)
        checks.append(('params', rounded or truncated))
    if row.flops is not None and ours.get('flops') is not None:
        scale, flops_digits = ((2**30, 2) if giga else (2**20, 1)) \
            if family.binary else (1e6, 2)
        checks.append(
            ('FLOPs', round(ours['flops'] / scale,
                            flops_digits) == round(row.flops, flops_digits)))
    if not checks:
        return '-'
    wrong = [name for name, ok in checks if not ok]
    if wrong:
        return 'no: ' + ', '.join(wrong)
    return 'yes (truncated)' if truncated else 'yes'


def table_rows(family: Family, names: Sequence[str], configs: Dict[str, str]):
    """One row of cells (``HEADER``) per name; ``configs`` maps names to
    the files given on the command line (else the row's own config)."""
    counter = Counter()
    binary = family.binary
    for name in names:
        row = family.rows.get(name, PaperRow('-', None, None, None))
        config = configs.get(name) or _row_config(family, name, row)
        # As printed: ImageNet FLOPs in G (MobileNetV2's in M), parameters
        # with 2 decimals (3 for the layer-attention CIFAR models).
        giga = binary and (row.flops is None or row.flops < 100)
        digits = 3 if family.name == 'layer-attention' and (
            row.params is None or row.params < 10) else 2
        flops_unit, flops_digits = ('G', 2) if giga else \
            ('M', 1 if binary else 2)
        paper_params = _paper(row.params, 'M', digits)
        paper_flops = _paper(row.flops, flops_unit, flops_digits)
        if config is None:
            yield [
                name, row.table, 'not in mmrla', paper_params, '-',
                paper_flops, '-', '-', row.error or '-', '-'
            ]
            continue
        ours = counter(config, family, row.options)
        d_params = d_flops = p_params = p_flops = None
        base = family.rows.get(row.baseline) if row.baseline else None
        if base is not None:
            base_config = configs.get(row.baseline) or _row_config(
                family, row.baseline, base, near=config)
            if base_config:
                base_count = counter(base_config, family, base.options)
                d_params = ours['params'] - base_count['params']
                if ours['flops'] is not None:
                    d_flops = ours['flops'] - base_count['flops']
            if row.params is not None and base.params is not None:
                p_params = round(row.params - base.params, digits)
            if row.flops is not None and base.flops is not None:
                p_flops = round(row.flops - base.flops, flops_digits)
        agrees = _agrees(ours, row, family, giga, digits)
        if agrees != 'yes' and name in NOTES:
            agrees += f' ({NOTES[name]})'
        params = ours['params']
        d_params_cell = d_flops_cell = '-'
        if base is not None:
            d_params_cell = (f'{_fmt_params(d_params, binary, "+")} / '
                             f'{_paper(p_params, "M", digits, "+")}')
            d_flops_cell = (
                f'{_fmt_flops(d_flops, binary, giga, "+")} / '
                f'{_paper(p_flops, flops_unit, flops_digits, "+")}')
        yield [
            name, row.table, f'{params:,} ({_fmt_params(params, binary)})',
            paper_params,
            _fmt_flops(ours['flops'], binary, giga), paper_flops,
            d_params_cell, d_flops_cell, row.error or '-', agrees
        ]


def _row_config(family: Family,
                name: str,
                row: PaperRow,
                near: Optional[str] = None) -> Optional[str]:
    """The config file of a row: its own (package configs as given), else
    the file called ``name`` next to ``near`` or under the family's
    folder."""
    if row.config is not None:
        return row.config if '::' in row.config else osp.join(REPO, row.config)
    if family.name == 'imagenet':
        return None  # a model mmrla does not build
    return (_find(name, osp.dirname(near)) if near else None) or \
        _find(name, family.config_dir)


def _family_of(name: str, path: str) -> Family:
    for family in FAMILIES.values():
        if name in family.rows:
            return family
    if 'layer_attention' in path or name.startswith(('la-', 'se-resnet')):
        return FAMILIES['layer-attention']
    return FAMILIES['cifar' if 'cifar' in name else 'imagenet']


def markdown_table(header: Sequence[str],
                   rows: Iterable[Sequence[object]]) -> List[str]:
    """The lines of a Markdown table.

    Args:
        header (Sequence[str]): Column titles.
        rows (Iterable[Sequence]): One sequence of cells per row, as many
            as titles; cells are printed with ``str``.

    Returns:
        list[str]: The header line, the separator and one line per row.

    Example:
        >>> print('\\n'.join(markdown_table(['model', 'params'],
        ...                                 [['r110', '1.73M']])))
        | model | params |
        |---|---|
        | r110 | 1.73M |
    """
    lines = [_line(header), '|' + '---|' * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f'A row of {len(row)} cells for {len(header)} '
                             f'columns: {row}')
        lines.append(_line(row))
    return lines


def _line(cells: Sequence[object]) -> str:
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Print the parameters and FLOPs of both papers' models "
        "beside the papers' figures (Markdown, one table per family).")
    parser.add_argument(
        'configs',
        nargs='*',
        help='config files (default: every row of the families)')
    parser.add_argument(
        '--family',
        nargs='+',
        choices=list(FAMILIES),
        help='families to print (default: all, or those of CONFIGS)')
    parser.add_argument(
        '--config-dir',
        help='report on every config under this folder (without CONFIGS), '
        'and look there for the baselines the increments need')
    return parser.parse_args(argv)


def select(args) -> Dict[str, List[str]]:
    """Family name -> row names to print, in the paper's order (then the
    others); fills ``args.files`` with the given files by name."""
    from mmrla.cli import find_configs
    from mmrla.errors import UserError
    args.files = {}
    if args.configs or args.config_dir:
        configs = find_configs(args.configs, args.config_dir)
        if not configs:
            raise UserError(f'no config under {args.config_dir}')
        chosen: Dict[str, List[str]] = {}
        for config in configs:
            name = osp.splitext(osp.basename(config))[0]
            family = FAMILIES[args.family[0]] if args.family else \
                _family_of(name, config)
            args.files[name] = config
            chosen.setdefault(family.name, []).append(name)
        for family, names in chosen.items():
            order = {n: i for i, n in enumerate(FAMILIES[family].rows)}
            names.sort(key=lambda n: (order.get(n, len(order)), n))
        return chosen
    return {
        name: list(FAMILIES[name].rows)
        for name in (args.family or FAMILIES)
    }


UNITS = {
    'imagenet': 'M = 2^20, G = 2^30 (the paper\'s thop units); 224x224 images',
    'cifar': 'M = 10^6; 32x32 images',
    'layer-attention': 'M = 10^6; parameters only (the paper gives no FLOPs)',
}


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    chosen = select(args)
    tables = []
    for name, names in chosen.items():
        family = FAMILIES[name]
        if args.config_dir:
            family = family._replace(config_dir=args.config_dir)
        lines = markdown_table(HEADER, table_rows(family, names, args.files))
        tables.append((name, lines))
    for name, lines in tables:
        if len(tables) > 1:
            print(f'\n## {name}\n')
        print('\n'.join(lines))
        flops = ' FLOPs are multiply-accumulates of one image, as ' \
            'tools/analysis_tools/get_flops.py counts them.' \
            if FAMILIES[name].count_flops else ''
        print(f'\nOurs: exact counts, {UNITS[name]}.{flops} The paper\'s '
              'figures are as printed.')
        if name in FAMILY_NOTES:
            print(FAMILY_NOTES[name])
    return 0


if __name__ == '__main__':
    sys.exit(main())
