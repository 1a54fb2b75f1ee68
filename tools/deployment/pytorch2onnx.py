"""Export an mmrla classifier, or a detector's backbone and neck, to ONNX.

Examples:
    python tools/deployment/pytorch2onnx.py configs/r50rla_4xb64_in1k.py \
        checkpoints/rla_resnet50_in1k.pth --out rla_r50.onnx --dynamic
    python tools/deployment/pytorch2onnx.py \
        configs/faster_rcnn_r50rla_fpn_1x_coco.py --out r50rla_fpn.onnx \
        --shape 800 1344

A classification config exports the whole classifier in ``mode='tensor'``:
input ``input`` (N, 3, H, W), output ``logits`` (N, num_classes), before
softmax. A detection config (``default_scope='mmdet'``) exports the part that
mmrla changes, the backbone and the neck (``model.extract_feat``): outputs
``feat0``, ``feat1``, ... (the FPN levels). The data preprocessor
(normalization, padding) is not part of the graph: feed normalized images.

After exporting, the graph is checked with ``onnx.checker`` and run with
onnxruntime at the export shape and, with ``--dynamic``, at a second batch
size and odd image size; the tool fails when an output differs from
PyTorch's by more than ``--atol`` plus ``--rtol`` times the output's largest
magnitude (float32 rounding leaves about 1e-6 of it; a wrong graph, such as
the ceil-mode pooling that counted missing border pixels before mmrla fixed
it, about 1e-3). ``onnx`` and ``onnxruntime`` are not runtime
dependencies of mmrla; ``pip install -r requirements/tests.txt`` installs the
tested versions.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import DictAction

from mmrla.cli import build_model_without_weights, load_config, main_entry
from mmrla.errors import UserError
from mmrla.weights import check_checkpoint

DEFAULT_SHAPES = dict(classification=(224, 224), detection=(800, 1344))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an mmrla classifier (whole, logits) or a '
        'detector\'s backbone and neck (features) to ONNX, then check the '
        'graph and compare onnxruntime\'s outputs with PyTorch\'s.')
    parser.add_argument('config', help='classification or detection config')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='weights (trained with tools/train.py or converted with '
        'tools/model_converters/rlanet_to_mmrla.py); without one the graph '
        'holds random weights, which is enough to test deployment')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width of the export; default 224 224 for '
        'classifiers, 800 1344 for detectors')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='batch of the export')
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='dynamic batch, height and width (verified at a second, odd '
        'size too)')
    parser.add_argument(
        '--opset', type=int, default=17, help='ONNX opset version')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-5,
        help='allowed absolute difference from PyTorch, added to --rtol')
    parser.add_argument(
        '--rtol',
        type=float,
        default=1e-4,
        help='allowed difference relative to the largest output magnitude')
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help='skip the onnx.checker and onnxruntime comparison')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.head.num_classes=10')
    return parser.parse_args(argv)


class ClassifierLogits(nn.Module):
    """A classifier as a tensor function: images to logits."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(inputs, mode='tensor')


class DetectorFeatures(nn.Module):
    """A detector's backbone and neck: images to the neck's features."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.detector.extract_feat(inputs))


def build_exportable(cfg,
                     checkpoint: Optional[str] = None
                     ) -> Tuple[nn.Module, str]:
    """Build the part of ``cfg.model`` that is exported, in eval mode.

    Args:
        cfg (Config): A classification or detection config.
        checkpoint (str, optional): Weights of the whole model; refused
            (with the reason) unless they set every weight.

    Returns:
        tuple: The module (:class:`ClassifierLogits` or
        :class:`DetectorFeatures`) and the task, ``'classification'`` or
        ``'detection'``.
    """
    task = 'detection' if cfg.get('default_scope') == 'mmdet' else \
        'classification'
    model = build_model_without_weights(cfg)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise UserError(f'checkpoint {checkpoint} does not exist.')
        check_checkpoint(model, checkpoint, allow_unexpected=False)
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    if task == 'detection':
        if not hasattr(model, 'extract_feat'):
            raise UserError(f'{type(model).__name__} has no extract_feat; '
                            'only detectors with a backbone (and neck) '
                            'export.')
        return DetectorFeatures(model).eval(), task
    return ClassifierLogits(model).eval(), task


def output_names(module: nn.Module, inputs: torch.Tensor) -> List[str]:
    with torch.no_grad():
        outputs = module(inputs)
    if isinstance(outputs, torch.Tensor):
        return ['logits']
    return [f'feat{i}' for i in range(len(outputs))]


def export(module: nn.Module,
           out: str,
           shape: Sequence[int],
           batch_size: int = 1,
           dynamic: bool = False,
           opset: int = 17) -> List[str]:
    """Export ``module`` (images to a tensor or a tuple) with
    ``torch.onnx.export``; returns the output names."""
    inputs = torch.rand(batch_size, 3, *shape)
    names = output_names(module, inputs)
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
        for name in names:
            dynamic_axes[name] = {0: 'batch'} if name == 'logits' else \
                {0: 'batch', 2: f'{name}_height', 3: f'{name}_width'}
    with torch.no_grad():
        torch.onnx.export(
            module,
            inputs,
            out,
            input_names=['input'],
            output_names=names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            # The TorchScript exporter, which dynamic_axes and the opset are
            # written for (torch >= 2.9 defaults to the dynamo exporter).
            dynamo=False)
    return names


def verify_shapes(shape: Sequence[int], batch_size: int,
                  dynamic: bool) -> List[Tuple[int, int, int]]:
    """The (N, H, W) inputs to compare at: the export's and, for a dynamic
    graph, another batch size and odd, non-proportional sizes."""
    shapes = [(batch_size, *shape)]
    if dynamic:
        height, width = shape
        shapes.append((batch_size + 1, max(height * 3 // 4, 17) | 1,
                       max(width * 5 // 4, 17) | 1))
    return shapes


def compare_with_onnxruntime(module: nn.Module, out: str,
                             shapes: Sequence[Tuple[int, int, int]],
                             atol: float, rtol: float) -> List[Dict]:
    """Check the graph and run it with onnxruntime against PyTorch.

    Returns:
        list[dict]: Per input shape: ``shape``, ``max_abs_diff`` and
        ``max_abs_output`` over all outputs, and ``ok``.

    Raises:
        UserError: If onnx or onnxruntime is missing.
    """
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        raise UserError(
            f'{e.name} is needed to verify the export: pip install -r '
            'requirements/tests.txt (or pass --no-verify).') from e
    onnx.checker.check_model(onnx.load(out), full_check=True)
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    results = []
    generator = torch.Generator().manual_seed(0)
    for n, height, width in shapes:
        inputs = torch.randn(n, 3, height, width, generator=generator)
        with torch.no_grad():
            expected = module(inputs)
        if isinstance(expected, torch.Tensor):
            expected = (expected, )
        actual = session.run(None, {'input': inputs.numpy()})
        diff = max(
            float((torch.from_numpy(a) - e).abs().max())
            for a, e in zip(actual, expected))
        scale = max(float(e.abs().max()) for e in expected)
        results.append(
            dict(
                shape=(n, 3, height, width),
                max_abs_diff=diff,
                max_abs_output=scale,
                ok=len(actual) == len(expected)
                and diff <= atol + rtol * scale))
    return results


@main_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.batch_size < 1:
        raise UserError(
            f'--batch-size must be positive, got {args.batch_size}.')
    if args.shape is not None and min(args.shape) < 1:
        raise UserError(f'--shape must be positive, got {args.shape}.')
    if not args.out.endswith('.onnx'):
        raise UserError(f'--out must name a .onnx file, got {args.out}.')
    cfg = load_config(args.config, args.cfg_options)
    module, task = build_exportable(cfg, args.checkpoint)
    shape = tuple(args.shape or DEFAULT_SHAPES[task])
    names = export(module, args.out, shape, args.batch_size, args.dynamic,
                   args.opset)
    print(f'exported the {task} model of {args.config} to {args.out}: '
          f'input (N, 3, H, W) -> {", ".join(names)}; '
          f'{"dynamic" if args.dynamic else "static"} shape, traced at '
          f'{(args.batch_size, 3, *shape)}, opset {args.opset}')
    if args.checkpoint is None:
        print('no checkpoint given: the graph holds random weights')
    if args.no_verify:
        return 0
    results = compare_with_onnxruntime(
        module, args.out, verify_shapes(shape, args.batch_size, args.dynamic),
        args.atol, args.rtol)
    print('onnx.checker: ok')
    for r in results:
        print(f'onnxruntime vs PyTorch at {r["shape"]}: max abs diff '
              f'{r["max_abs_diff"]:.2e} (outputs up to '
              f'{r["max_abs_output"]:.2e}): '
              f'{"ok" if r["ok"] else "MISMATCH"}')
    if not all(r['ok'] for r in results):
        print(
            f'error: onnxruntime\'s outputs differ from PyTorch\'s by more '
            f'than --atol {args.atol} + --rtol {args.rtol} x max|output|.',
            file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
