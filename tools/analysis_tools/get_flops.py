"""Count the parameters and FLOPs of the model of an mmrla config.

Examples:
    python tools/analysis_tools/get_flops.py configs/r50rla_4xb64_in1k.py
    python tools/analysis_tools/get_flops.py \
        mmpretrain::resnet/resnet50_8xb32_in1k.py     # the baseline
    python tools/analysis_tools/get_flops.py \
        configs/faster_rcnn_r50rla_fpn_1x_coco.py --shape 800 1333

FLOPs are multiply-accumulates (MACs) counted by mmengine's jit-tracing
``FlopAnalyzer`` (as mmpretrain's and mmdet's get_flops do) for one image:
convolutions and linear layers (one per multiply-add), batch norms (one per
element) and global average pools, whether a pooling layer or a mean over
the feature map such as ECA's channel descriptor (one per input element,
as the authors' thop counts their ECA's ``nn.AdaptiveAvgPool2d``);
element-wise additions and products, activations, tanh, max pooling and
the RLA hidden state's 2x2 average pooling count zero.
A module called several times (RLA's shared convs) counts at every call;
its parameters count once. The model is counted in its plain form
(``set_fast_paths(False)``), the computation the paper describes: every
RLA step, the first over the all-zero state included. The authors printed
their figures with thop in units of 2**20 / 2**30; which of Table 3's
figures ours equal, and why the others differ, is in docs/paper_tables.md
(``python tools/analysis_tools/paper_tables.py --family imagenet``).
"""
import argparse
import sys
from typing import Dict, Sequence

import numpy as np
import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import DictAction

from mmrla.cli import build_model_without_weights, load_config, main_entry
from mmrla.errors import UserError

COUNTED = (
    'FLOPs are multiply-accumulates (MACs) for one image, counted by '
    "mmengine's FlopAnalyzer: conv and linear layers, batch norm (1 per "
    'element), global average pooling and means over feature maps (1 per '
    'input element, ECA\'s included); element-wise adds and products, '
    'activations, tanh and max/2x2 avg pooling count 0; '
    'shared RLA convs count at every call, their parameters once; the '
    'model runs in its plain form (every RLA step).')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print the parameters and FLOPs (MACs) of an mmrla '
        'classifier or detector, in decimal units and in the paper\'s '
        '(2**20, 2**30) units.')
    parser.add_argument(
        'config',
        help='config file path, or a config of mmpretrain or mmdet, e.g. '
        'mmpretrain::resnet/resnet50_8xb32_in1k.py')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=None,
        help='input height and width (one value for a square); default '
        '224 for classifiers, 800 1333 for detectors')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    return parser.parse_args(argv)


def paper_format(num: float) -> str:
    """Format like the authors' thop script (``clever_format``, 2 decimals):
    binary units, e.g. 4.17G = 4.17 * 2**30."""
    for unit, power in (('T', 4), ('G', 3), ('M', 2), ('K', 1)):
        if num > 10**(3 * power):
            return f'{num / 1024**power:.2f}{unit}'
    return f'{num:.2f}'


def decimal_format(num: float) -> str:
    for unit, power in (('T', 12), ('G', 9), ('M', 6), ('K', 3)):
        if num > 10**power:
            return f'{num / 10**power:.2f}{unit}'
    return f'{num:.0f}'


def _input_shape(shape: Sequence[int], detection: bool):
    if shape is None:
        return (800, 1333) if detection else (224, 224)
    if len(shape) == 1:
        return (shape[0], shape[0])
    if len(shape) == 2:
        return tuple(shape)
    raise UserError(f'--shape takes H W or one size, got {list(shape)}.')


def _mean_flops(inputs, outputs) -> int:
    """A mean is an average pool: one per input element."""
    from mmengine.analysis.jit_handles import get_shape
    return int(np.prod(get_shape(inputs[0])))


def count(cfg, shape=None) -> Dict[str, object]:
    """Build ``cfg.model`` and count its parameters and FLOPs.

    Returns:
        dict: ``params`` and ``flops`` (ints), ``shape`` (H, W).
    """
    detection = cfg.get('default_scope') == 'mmdet'
    height, width = _input_shape(shape, detection)
    # Counting must not need the pretrained weights a config may name.
    model = build_model_without_weights(cfg).eval()
    # The paper's computation: no exact speed path may skip a step.
    for module in model.modules():
        if hasattr(module, 'set_fast_paths'):
            module.set_fast_paths(False)
    inputs = torch.rand(1, 3, height, width)
    if detection:
        from functools import partial

        from mmdet.structures import DetDataSample
        meta = dict(
            img_shape=(height, width),
            ori_shape=(height, width),
            pad_shape=(height, width),
            batch_input_shape=(height, width),
            scale_factor=(1., 1.))
        model.forward = partial(
            model.forward, data_samples=[DetDataSample(metainfo=meta)])
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (inputs, ))
        analyzer.set_op_handle('aten::mean', _mean_flops)
        # Ops that count zero by the rules above are not worth a warning.
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = analyzer.total()
    return dict(
        params=int(parameter_count(model)['']),
        flops=int(flops),
        shape=(height, width))


def count_params(cfg) -> int:
    """Parameters of ``cfg.model``, built without its pretrained weights."""
    return int(parameter_count(build_model_without_weights(cfg))[''])


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    result = count(load_config(args.config, args.cfg_options), args.shape)
    params, flops = result['params'], result['flops']
    height, width = result['shape']
    line = '=' * 60
    print(line)
    print(f'Config: {args.config}')
    print(f'Input shape: (1, 3, {height}, {width})')
    print(f'Params: {params:,} = {decimal_format(params)} (decimal) = '
          f'{paper_format(params)} (paper units, M = 2^20)')
    print(f'FLOPs: {flops:,} MACs = {decimal_format(flops)} (decimal) = '
          f'{paper_format(flops)} (paper units, M = 2^20, G = 2^30)')
    print(COUNTED)
    print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
