"""Benchmark RLA models against their peers, side by side, in one run.

Every measurement interleaves the models of a group (A B C, C B A, ...)
after a warm-up, and reports the median with min-max and the ratio against
the group's baseline: the median of the per-round ratios, which cancels a
drift of the machine's speed during the run. Peak training memory is
measured in a fresh subprocess per model (CPU: peak RSS; CUDA: max
allocated).

Groups:
    resnet     RLA-ResNet-50 and RLA-ECA-ResNet-50 vs mmpretrain ResNet-50
               (baseline), SE-ResNet-50 and ECA-ResNet-50: RLA-Net's
               Table 14
    resnet101  RLA-ResNet-101 vs ResNet-101 (baseline), SE-ResNet-101 and
               ECA-ResNet-101: the training overheads of section 4.2
    mobilenet  RLA-MobileNetV2 vs mmpretrain MobileNetV2 (baseline)
    det        Faster R-CNN with RLA-R50 vs mmdet's Faster R-CNN R50
               (baseline), inference at a reduced size: the whole detector
               (infer_b1) and its backbone with FPN (feat_b1)
    fastpaths-resnet, fastpaths-mobilenet
               what the exact speed paths buy: RLA-ResNet-50 or
               RLA-MobileNetV2 with ``set_fast_paths(False)`` (baseline),
               as built (fast paths on) and after ``switch_to_deploy()``
               (inference only)

``--deploy`` times inference of every model in its inference form: the RLA
backbones after ``switch_to_deploy()`` (split and stacked weights kept,
the faster CPU tanh; no norm is folded), the baselines as built, since
those rewrites have no counterpart in them. Training and memory, which a
deployed model does not do, are skipped.

``--onnxruntime`` times every model as it is served: exported whole with
mmdeploy (``configs/deploy/``: a classifier to its class scores, a
detector with box decoding and NMS; RLA backbones after
``switch_to_deploy()``) and run by ONNX Runtime on the CPU with as many
threads as PyTorch uses. Peak memory is then the inference's: in a fresh
process per model, the peak RSS while ONNX Runtime loads the model and
runs it twice at the larger batch (batch 1 for detectors), minus the RSS
before. It needs ``pip install -r requirements/deploy.txt``.

With random weights, RoIAlign's adaptive sampling (``sampling_ratio=0``)
makes the RoI head's cost follow the sizes of the random proposals, which
differ between two models whose heads are identical (we saw 0.95x-1.14x
between runs from this alone). The benchmark fixes it at 2 samples per bin
in both detectors, so the figure compares what the backbones change.

The last column prints the paper's figure for the model against the same
baseline: Table 14's training time per epoch (4x V100) and evaluation time
per image (1x A100) for ResNet-50, and section 4.2's training overheads for
ResNet-101. Ours compare with them on a GPU (``--device cuda``) at the
paper's batch; CPU ratios are not the paper's measurement.

Usage:
    python tools/analysis_tools/benchmark.py --groups resnet resnet101 \
        --out work_dirs/benchmark/resnet.json
    python tools/analysis_tools/benchmark.py --device cuda --channels-last
    python tools/analysis_tools/benchmark.py --onnxruntime \
        --groups resnet mobilenet det --models RLA-ResNet-50
"""
import argparse
import contextlib
import ctypes
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

from mmrla.cli import build_model_without_weights, load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# name -> (config, kind[, mode]); the first model of each group is its
# baseline. mode 'plain' turns the backbone's fast paths off; 'deploy' times
# inference after switch_to_deploy() and skips training.
GROUPS: Dict[str, List[tuple]] = {
    'resnet': [
        ('ResNet-50', 'mmpretrain::_base_/models/resnet50.py', 'cls'),
        ('SE-ResNet-50', 'mmpretrain::_base_/models/seresnet50.py', 'cls'),
        ('ECA-ResNet-50', 'configs/r50eca_4xb64_in1k.py', 'cls'),
        ('RLA-ResNet-50', 'configs/_base_/models/r50rla.py', 'cls'),
        ('RLA-ECA-ResNet-50', 'configs/r50rlaeca_4xb64_in1k.py', 'cls'),
    ],
    'resnet101': [
        ('ResNet-101', 'mmpretrain::_base_/models/resnet101.py', 'cls'),
        ('SE-ResNet-101', 'mmpretrain::_base_/models/seresnet101.py', 'cls'),
        ('ECA-ResNet-101', 'configs/r101eca_4xb64_in1k.py', 'cls'),
        ('RLA-ResNet-101', 'configs/r101rla_4xb64_in1k.py', 'cls'),
    ],
    'mobilenet': [
        ('MobileNetV2', 'mmpretrain::_base_/models/mobilenet_v2_1x.py', 'cls'),
        ('RLA-MobileNetV2', 'configs/mobilenetv2rla_2xb48_in1k.py', 'cls'),
    ],
    'det': [
        ('Faster R-CNN R50',
         'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', 'det'),
        ('Faster R-CNN RLA-R50', 'configs/faster_rcnn_r50rla_fpn_1x_coco.py',
         'det'),
    ],
    'fastpaths-resnet': [
        ('RLA-ResNet-50 plain', 'configs/_base_/models/r50rla.py', 'cls',
         'plain'),
        ('RLA-ResNet-50 fast', 'configs/_base_/models/r50rla.py', 'cls'),
        ('RLA-ResNet-50 deploy', 'configs/_base_/models/r50rla.py', 'cls',
         'deploy'),
    ],
    'fastpaths-mobilenet': [
        ('RLA-MobileNetV2 plain', 'configs/mobilenetv2rla_2xb48_in1k.py',
         'cls', 'plain'),
        ('RLA-MobileNetV2 fast', 'configs/mobilenetv2rla_2xb48_in1k.py',
         'cls'),
        ('RLA-MobileNetV2 deploy', 'configs/mobilenetv2rla_2xb48_in1k.py',
         'cls', 'deploy'),
    ],
}
DEFAULT_GROUPS = ['resnet', 'mobilenet', 'det']

# The paper's timings against the group's baseline: RLA-Net Table 14
# (training s/epoch on 4x V100, evaluation ms/image on 1x A100; ResNet-50:
# 961 s, 1.16 ms) and section 4.2 (ResNet-101 training overheads).
PAPER = {
    'ResNet-50': 'train 961 s/epoch, eval 1.16 ms/image',
    'SE-ResNet-50': 'train 1.22x (1171 s), eval 1.01x (1.17 ms)',
    'ECA-ResNet-50': 'train 1.21x (1161 s), eval 1.01x (1.17 ms)',
    'RLA-ResNet-50': 'train 1.26x (1211 s), eval 1.03x (1.20 ms)',
    'SE-ResNet-101': 'train 1.15x',
    'ECA-ResNet-101': 'train 1.15x',
    'RLA-ResNet-101': 'train 1.19x',
}


def entry(member: tuple) -> tuple:
    """``(name, config, kind, mode)`` of a group member."""
    return tuple(member) + (None, ) * (4 - len(member))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--groups',
        nargs='+',
        default=DEFAULT_GROUPS,
        choices=list(GROUPS),
        help=f'default: {" ".join(DEFAULT_GROUPS)}')
    parser.add_argument(
        '--models',
        nargs='+',
        help='only these models of the groups (each group keeps its '
        'baseline), e.g. --models RLA-ResNet-50')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--compile', action='store_true', help='wrap models in torch.compile')
    parser.add_argument(
        '--deploy',
        action='store_true',
        help='inference only, each RLA backbone after switch_to_deploy() '
        '(the baselines have no such form and run as built)')
    parser.add_argument(
        '--onnxruntime',
        action='store_true',
        help='inference only, of each model exported whole with mmdeploy '
        'and run by ONNX Runtime, with its peak memory (needs pip install -r '
        'requirements/deploy.txt)')
    parser.add_argument(
        '--onnx-dir',
        default='work_dirs/benchmark/onnx',
        help='where --onnxruntime writes the exported models')
    parser.add_argument(
        '--amp',
        choices=['fp16', 'bf16'],
        help='run every model under torch.autocast with this dtype')
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument(
        '--det-size',
        type=int,
        nargs=2,
        default=[512, 320],
        metavar=('W', 'H'),
        help='detection input size (CPU-friendly by default)')
    parser.add_argument(
        '--batch-sizes',
        type=int,
        nargs=2,
        default=[1, 16],
        metavar=('SMALL', 'LARGE'))
    parser.add_argument('--train-batch', type=int, default=16)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--train-repeats', type=int, default=5)
    parser.add_argument(
        '--allocator',
        default='stable',
        choices=['stable', 'default'],
        help='stable (CPU, glibc): keep freed memory in the process, so '
        'that page faults do not make a model\'s speed depend on what ran '
        'before it; default: leave glibc as it is')
    parser.add_argument(
        '--skip-memory', action='store_true', help='skip peak memory runs')
    parser.add_argument(
        '--external',
        action='append',
        default=[],
        metavar='NAME=FILE:FUNCTION',
        help='also time a classifier defined outside mmrla, e.g. the '
        "authors' model file of a clone of their repository: "
        "'RLA-ResNet-50 (authors)=RLANet/models/resnet_rla.py:rla_resnet50'"
        ' (FUNCTION() builds it; its forward maps images to logits; '
        'relative imports of FILE resolve in its folder). It joins the '
        'first of --groups')
    parser.add_argument('--out', default='work_dirs/benchmark/benchmark.json')
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


class _External(torch.nn.Module):
    """A classifier from outside mmrla, called like an mmpretrain one."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor, mode: str = 'tensor'):
        return self.model(inputs)


def build_external(spec: str) -> torch.nn.Module:
    """``FILE:FUNCTION()``; FILE is imported as a module of a package made
    of its folder, so that its relative imports resolve (the folder's own
    ``__init__.py`` is not run)."""
    import importlib
    import types
    path, _, function = spec.rpartition(':')
    folder, module = osp.split(osp.abspath(path))
    package = f'_benchmark_external_{abs(hash(folder))}'
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = [folder]
        sys.modules[package] = pkg
    mod = importlib.import_module(f'{package}.{osp.splitext(module)[0]}')
    return _External(getattr(mod, function)())


def parse_external(spec: str) -> tuple:
    """``NAME=FILE:FUNCTION`` -> a group member ``(NAME, 'external:...',
    'cls')``; exits with one line if it is malformed or FILE is missing."""
    name, sep, target = spec.partition('=')
    path, colon, function = target.rpartition(':')
    if not (sep and colon and name and function and path):
        sys.exit(f'error: --external {spec!r} is not NAME=FILE:FUNCTION.')
    if not osp.isfile(path):
        sys.exit(f'error: --external {spec!r}: no file {path!r}.')
    return name, f'external:{target}', 'cls'


def build_model(config: str) -> torch.nn.Module:
    """Build a classifier or detector from a config, with random init (and
    without mmengine's per-parameter initialization log)."""
    if config.startswith('external:'):
        return build_external(config[len('external:'):])
    # A package config ('mmdet::faster_rcnn/...') or one of this repository.
    path = config if '::' in config else osp.join(ROOT, config)
    return build_model_without_weights(load_config(path), init_weights=True)


def fix_roi_sampling(model: torch.nn.Module, samples: int = 2) -> None:
    """Give adaptive RoIAlign layers a fixed number of samples per bin, so
    that a detector's head costs the same whatever its proposals (see the
    module docstring)."""
    from mmcv.ops import RoIAlign
    for m in model.modules():
        if isinstance(m, RoIAlign) and m.sampling_ratio == 0:
            m.sampling_ratio = samples


def stabilize_allocator() -> bool:
    """Make glibc keep freed memory in the process; True if it took.

    By default glibc serves large buffers with fresh ``mmap`` pages and
    returns freed heap to the OS, so each big tensor costs page faults; on a
    VM these can cost more than the convolutions, and how many a model pays
    depends on what the previous model left (we saw 10-30% swings with the
    order of models). With no mmap and no trimming, every model runs on a
    warm heap after the warm-up, and the comparison measures computation.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:  # not glibc
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    results = [
        libc.mallopt(m_mmap_max, 0),
        libc.mallopt(m_trim_threshold, 2**31 - 1)
    ]
    return all(r == 1 for r in results)


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


class Runner:
    """Callables for one model: inference and a training step."""

    def __init__(self,
                 name: str,
                 config: str,
                 kind: str,
                 args,
                 mode: Optional[str] = None,
                 with_flops: bool = True) -> None:
        self.name, self.kind, self.args, self.mode = name, kind, args, mode
        self.model = build_model(config).to(args.device)
        if mode == 'plain':
            self.model.backbone.set_fast_paths(False)
        if kind == 'det':
            fix_roi_sampling(self.model)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.flops = count_flops(self.model, kind, args) if with_flops \
            else None
        if args.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if mode == 'deploy' or (args.deploy and hasattr(
                getattr(self.model, 'backbone', None), 'switch_to_deploy')):
            self.model.backbone.switch_to_deploy()
            self.mode = 'deploy'
        self.session = None
        if args.onnxruntime:
            self.session = ort_session(
                export_onnx(self.model, name, kind, args))
        self.forward = self.model
        if args.compile:
            self.forward = compiled(self.model)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=1e-4, momentum=0.9)

    def autocast(self):
        """``torch.autocast`` for ``--amp`` (a timing mode: no loss
        scaling), else nothing."""
        if self.args.amp is None:
            return contextlib.nullcontext()
        dtype = dict(fp16=torch.float16, bf16=torch.bfloat16)[self.args.amp]
        return torch.autocast(self.args.device, dtype=dtype)

    def inputs(self, batch: int) -> torch.Tensor:
        if self.kind == 'det':
            w, h = self.args.det_size
            shape = (batch, 3, h, w)
        else:
            shape = (batch, 3, self.args.img_size, self.args.img_size)
        x = torch.randn(shape, device=self.args.device)
        if self.args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def infer_fn(self, batch: int) -> Callable[[], None]:
        x = self.inputs(batch)
        self.model.eval()
        if self.session is not None:
            feed = {'input': x.cpu().numpy()}

            def run():
                self.session.run(None, feed)
        elif self.kind == 'det':
            h, w = x.shape[2:]
            samples = [_det_sample(h, w) for _ in range(batch)]

            def run():
                with torch.no_grad(), self.autocast():
                    self.forward(x, samples, mode='predict')
        else:

            def run():
                with torch.no_grad(), self.autocast():
                    self.forward(x, mode='tensor')

        return run

    def feat_fn(self, batch: int) -> Callable[[], None]:
        """A detector's backbone and neck alone."""
        x = self.inputs(batch)
        self.model.eval()
        extract = self.model.extract_feat
        if self.args.compile:
            extract = compiled(extract)

        def run():
            with torch.no_grad(), self.autocast():
                extract(x)

        return run

    def train_fn(self, batch: int) -> Callable[[], None]:
        x = self.inputs(batch)
        target = torch.randint(0, 1000, (batch, ), device=self.args.device)
        self.model.train()

        def run():
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                logits = self.forward(x, mode='tensor')
                loss = F.cross_entropy(logits.float(), target)
            loss.backward()
            self.optimizer.step()

        return run


def onnx_path(name: str, args) -> str:
    """Where ``--onnxruntime`` exports the model called ``name``."""
    slug = ''.join(c if c.isalnum() else '_' for c in name)
    return osp.join(args.onnx_dir, f'{slug}.onnx')


def export_onnx(model: torch.nn.Module, name: str, kind: str, args) -> str:
    """Export ``model`` whole with mmdeploy (configs/deploy/, dynamic batch
    and size), traced at batch 1 of the benchmark's input size."""
    from mmengine.config import Config

    from mmrla.apis.deploy import deploy_config_path, export_end2end
    task = 'detection' if kind == 'det' else 'classification'
    deploy_cfg = Config.fromfile(deploy_config_path(task))
    if kind == 'det':
        w, h = args.det_size
        x = torch.randn(1, 3, h, w)
        samples = [_det_sample(h, w)]
    else:
        x = torch.randn(1, 3, args.img_size, args.img_size)
        samples = None
    path = onnx_path(name, args)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    model = model.cpu().eval()
    return export_end2end(model, x, samples, deploy_cfg, path[:-len('.onnx')])


def _det_sample(h: int, w: int):
    """The data sample of an unscaled (h, w) image."""
    from mmdet.structures import DetDataSample
    return DetDataSample(
        metainfo=dict(
            img_shape=(h, w),
            ori_shape=(h, w),
            scale_factor=(1., 1.),
            batch_input_shape=(h, w)))


def ort_session(path: str):
    """An ONNX Runtime CPU session of ``path`` with mmdeploy's custom ops
    (RoIAlign of two-stage detectors) and PyTorch's number of threads."""
    import onnxruntime as ort
    from mmdeploy.backend.onnxruntime.init_plugins import (get_lib_path,
                                                           get_ops_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    if osp.exists(get_ops_path()):
        # As mmdeploy's ORTWrapper: the ONNX Runtime library the ops were
        # built against first, then the ops.
        if osp.exists(get_lib_path()):
            ctypes.CDLL(get_lib_path())
        options.register_custom_ops_library(get_ops_path())
    return ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])


def compiled(fn: Callable) -> Callable:
    """``torch.compile`` with static shapes: one graph per batch size and
    mode, as a run with a fixed batch gets (dynamic shapes would time the
    larger batch and training on a graph of symbolic batch size)."""
    return torch.compile(fn, dynamic=False)


def allow_graphs_of_every_model(models: int) -> None:
    """Let dynamo keep a graph per model, batch size and mode.

    The models of a group share their classifier's ``forward`` code, and
    dynamo's cache limit (8 by default) counts the graphs of every instance
    of it: past the limit, it falls back to eager for the rest, and the
    last models would be timed uncompiled.
    """
    config = torch._dynamo.config
    config.cache_size_limit = max(config.cache_size_limit, 4 * models)
    config.accumulated_cache_size_limit = max(
        config.accumulated_cache_size_limit, 4 * models)


def count_flops(model, kind: str, args) -> Optional[int]:
    """Multiply-accumulates of one image via mmengine's flop counter."""
    if kind == 'det':
        return None
    from mmengine.analysis import FlopAnalyzer
    x = torch.randn(1, 3, args.img_size, args.img_size, device=args.device)

    class _Tensor(torch.nn.Module):

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, inputs):
            return self.m(inputs, mode='tensor')

    was_training = model.training
    model.eval()
    analyzer = FlopAnalyzer(_Tensor(model), (x, ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    flops = analyzer.total()
    model.train(was_training)
    return int(flops)


def progress(message: str, done: bool = True) -> None:
    """Print a progress line; on a terminal, an unfinished one (``done`` is
    False) is overwritten by the next, so rounds count up in place."""
    if sys.stdout.isatty():
        print(
            f'\r\033[K[benchmark] {message}',
            end='\n' if done else '',
            flush=True)
    elif done:
        print(f'[benchmark] {message}', flush=True)


def interleaved(fns: List[Callable[[], None]],
                warmup: int,
                repeats: int,
                device: str,
                label: str = 'timing') -> List[List[float]]:
    """Time each function ``repeats`` times, interleaved; seconds.

    Rounds alternate the order (A B C, C B A, ...), so that no model always
    runs right after the same neighbour. Progress is one line per call,
    ``label``, with the round counting up in place on a terminal.
    """
    progress(f'{label}: warm-up', done=False)
    for _ in range(warmup):
        for fn in fns:
            fn()
    sync(device)
    times = [[] for _ in fns]
    for r in range(repeats):
        progress(f'{label}: round {r + 1}/{repeats}', done=False)
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            sync(device)
            start = time.perf_counter()
            fns[i]()
            sync(device)
            times[i].append(time.perf_counter() - start)
    progress(f'{label}: {repeats} round{"s" if repeats > 1 else ""}')
    return times


def summarize(samples: List[float], base: Optional[List[float]]) -> dict:
    """Median [min-max] in ms, and the ratio against the baseline.

    ``ratio`` is the median of the per-round ratios: each round times the
    models back to back, so a machine that speeds up or slows down over the
    run (shared or throttled CPUs) cancels out of it. ``ratio_of_medians``
    is also kept.
    """
    median = statistics.median(samples)
    out = dict(
        median_ms=round(median * 1e3, 2),
        min_ms=round(min(samples) * 1e3, 2),
        max_ms=round(max(samples) * 1e3, 2),
        n=len(samples),
        samples_ms=[round(t * 1e3, 2) for t in samples])
    if base is not None:
        out['ratio'] = round(
            statistics.median(t / b for t, b in zip(samples, base)), 3)
        out['ratio_of_medians'] = round(median / statistics.median(base), 3)
    return out


def _read_status_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field} not in /proc/self/status')


def memory_child(args) -> None:
    """Run in a fresh process: peak memory of training steps of a model.

    On CPU the peak RSS mark (VmHWM) is reset right before the steps via
    ``/proc/self/clear_refs``, so imports and model building do not count;
    the reported ``step_mb`` is the peak during the steps minus the RSS
    before them (activations, gradients, optimizer state, workspaces).
    """
    name = args.memory_child
    group = next(g for g in GROUPS.values() if any(m[0] == name for m in g))
    _, config, kind, mode = entry(next(m for m in group if m[0] == name))
    if args.onnxruntime:
        onnxruntime_memory_child(name, kind, args)
        return
    runner = Runner(name, config, kind, args, mode, with_flops=False)
    step = runner.train_fn(args.train_batch)
    result = {}
    if args.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base_alloc = torch.cuda.memory_allocated()
    rss_before = _read_status_mb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM, the peak RSS
    for _ in range(2):
        step()
    sync(args.device)
    result = dict(
        peak_rss_mb=round(_read_status_mb('VmHWM'), 1),
        rss_before_mb=round(rss_before, 1))
    result['step_mb'] = round(result['peak_rss_mb'] - rss_before, 1)
    if args.device == 'cuda':
        result['cuda_peak_mb'] = round(
            (torch.cuda.max_memory_allocated() - base_alloc) / 2**20, 1)
    print('MEMORY ' + json.dumps(result))


def onnxruntime_memory_child(name: str, kind: str, args) -> None:
    """Peak memory of serving the exported model ``name`` with ONNX
    Runtime: loading it and two inferences at the larger batch (batch 1 for
    a detector), as the rise of the peak RSS over the RSS before."""
    if kind == 'det':
        w, h = args.det_size
        shape = (args.batch_sizes[0], 3, h, w)
    else:
        shape = (args.batch_sizes[1], 3, args.img_size, args.img_size)
    feed = {'input': torch.randn(shape).numpy()}
    rss_before = _read_status_mb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM, the peak RSS
    session = ort_session(onnx_path(name, args))
    for _ in range(2):
        session.run(None, feed)
    peak = _read_status_mb('VmHWM')
    print('MEMORY ' + json.dumps(
        dict(
            peak_rss_mb=round(peak, 1),
            rss_before_mb=round(rss_before, 1),
            step_mb=round(peak - rss_before, 1),
            batch=shape[0])))


def measure_memory(name: str, args) -> dict:
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--memory-child', name, '--device', args.device,
        '--train-batch',
        str(args.train_batch), '--img-size',
        str(args.img_size)
    ]
    if args.channels_last:
        cmd.append('--channels-last')
    if args.amp:
        cmd += ['--amp', args.amp]
    if args.onnxruntime:
        cmd += [
            '--onnxruntime', '--onnx-dir', args.onnx_dir, '--batch-sizes',
            *map(str, args.batch_sizes), '--det-size',
            *map(str, args.det_size)
        ]
    for spec in args.external:
        cmd += ['--external', spec]
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith('MEMORY '))
    return json.loads(line[len('MEMORY '):])


def bench_group(group: str, args) -> List[dict]:
    members = [
        m for i, m in enumerate(GROUPS[group])
        if i == 0 or not args.models or m[0] in args.models
    ]
    progress(f'{group}: building {", ".join(m[0] for m in members)}')
    runners = [Runner(*entry(m)[:3], args, entry(m)[3]) for m in members]
    trainable = [i for i, r in enumerate(runners) if r.mode != 'deploy']
    kind = runners[0].kind
    figures: Dict[str, List[List[float]]] = {}
    small, large = args.batch_sizes
    batches = (small, ) if kind == 'det' else (small, large)
    for batch in batches:
        figures[f'infer_b{batch}'] = interleaved(
            [r.infer_fn(batch) for r in runners], args.warmup, args.repeats,
            args.device, f'{group}: inference, batch {batch}')
    if kind == 'det' and not args.onnxruntime:
        figures[f'feat_b{small}'] = interleaved(
            [r.feat_fn(small) for r in runners], args.warmup, args.repeats,
            args.device, f'{group}: backbone and neck, batch {small}')
    elif not args.deploy:
        times = interleaved(
            [runners[i].train_fn(args.train_batch)
             for i in trainable], 1, args.train_repeats, args.device,
            f'{group}: training step, batch {args.train_batch}')
        # A deployed model does not train: no samples.
        figures[f'train_b{args.train_batch}'] = [
            times[trainable.index(i)] if i in trainable else None
            for i in range(len(runners))
        ]
    results = []
    for i, runner in enumerate(runners):
        row = dict(
            group=group,
            model=runner.name,
            baseline=runners[0].name,
            params=runner.params,
            flops=runner.flops,
            deployed=runner.mode == 'deploy')
        for key, times in figures.items():
            if times[i] is not None:
                row[key] = summarize(times[i], times[0])
        results.append(row)
    if args.onnxruntime and not args.skip_memory:
        del runners
        for row in results:
            progress(f'{group}: ONNX Runtime peak memory of {row["model"]}')
            row['memory'] = measure_memory(row['model'], args)
        _memory_ratios(results, 'step_mb')
    elif kind != 'det' and not args.skip_memory and not args.deploy:
        modes = [r.mode for r in runners]
        del runners
        for row, mode in zip(results, modes):
            if mode == 'deploy':
                continue
            progress(f'{group}: peak memory of {row["model"]}')
            row['memory'] = measure_memory(row['model'], args)
        _memory_ratios(results,
                       'cuda_peak_mb' if args.device == 'cuda' else 'step_mb')
    return results


def _memory_ratios(results: List[dict], key: str) -> None:
    """Each row's ``memory[key]`` against the baseline's."""
    base = results[0]['memory'][key]
    for row in results:
        if 'memory' in row:
            row['memory']['ratio'] = round(row['memory'][key] /
                                           base, 3) if base > 0 else None


def to_markdown(results: List[dict], memory: str = 'train') -> str:
    keys = []
    for row in results:
        keys += [
            k for k in row
            if k.startswith(('infer_', 'feat_', 'train_')) and k not in keys
        ]
    header = ['model', 'params', 'FLOPs'
              ] + [f'{k} ms (ratio)'
                   for k in keys] + [f'{memory} peak mem MB (ratio)', 'paper']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in results:
        cells = [
            row['model'], f'{row["params"] / 1e6:.2f}M',
            f'{row["flops"] / 1e9:.2f}G' if row['flops'] else '-'
        ]
        for k in keys:
            if k in row:
                f = row[k]
                cells.append(f'{f["median_ms"]:.1f} [{f["min_ms"]:.1f}-'
                             f'{f["max_ms"]:.1f}] ({f["ratio"]:.2f}x)')
            else:
                cells.append('-')
        mem = row.get('memory')
        if mem:
            value = mem.get('cuda_peak_mb', mem['step_mb'])
            ratio = f'{mem["ratio"]:.2f}x' if mem['ratio'] else 'n/a'
            cells.append(f'{value:.0f} ({ratio})')
        else:
            cells.append('-')
        cells.append(PAPER.get(row['model'], '-'))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        print('error: --device cuda needs a CUDA GPU.', file=sys.stderr)
        return 2
    if args.onnxruntime:
        if args.device != 'cpu' or args.compile or args.amp or \
                args.channels_last or args.external:
            print(
                'error: --onnxruntime times ONNX Runtime on the CPU: it '
                'takes none of --device cuda, --compile, --amp, '
                '--channels-last, --external.',
                file=sys.stderr)
            return 2
        if not args.memory_child:
            from mmrla.apis.deploy import import_mmdeploy
            from mmrla.errors import UserError
            try:
                import_mmdeploy()
            except UserError as e:
                print(f'error: {e}', file=sys.stderr)
                return 2
        args.deploy = True  # inference only, RLA backbones deployed
    externals = [parse_external(spec) for spec in args.external]
    first = args.groups[0]
    GROUPS[first] = [
        m for m in GROUPS[first] if not m[1].startswith('external:')
    ] + externals
    if args.memory_child:
        memory_child(args)
        return 0
    known = {m[0] for g in GROUPS.values() for m in g}
    unknown = set(args.models or ()) - known
    if unknown:
        print(
            f'error: unknown --models {sorted(unknown)}; choose from '
            f'{sorted(known)}.',
            file=sys.stderr)
        return 2
    allocator = 'default'
    if args.device == 'cpu' and args.allocator == 'stable':
        allocator = 'stable' if stabilize_allocator() else \
            'not stable (mallopt missing or refused)'
    torch.manual_seed(0)
    if args.compile:
        allow_graphs_of_every_model(
            sum(len(GROUPS[group]) for group in args.groups))
    results = []
    for group in args.groups:
        results += bench_group(group, args)
    meta = dict(
        device=args.device,
        cpu=platform.processor() or platform.machine(),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        channels_last=args.channels_last,
        compile=args.compile,
        deploy=args.deploy,
        onnxruntime=args.onnxruntime,
        amp=args.amp,
        allocator=allocator,
        img_size=args.img_size,
        det_size=args.det_size,
        repeats=args.repeats,
        train_repeats=args.train_repeats,
        command=' '.join(['python', 'tools/analysis_tools/benchmark.py'] +
                         (argv if argv is not None else sys.argv[1:])))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(meta=meta, results=results), f, indent=2)
    if args.onnxruntime:
        print('ONNX Runtime inference of the models exported whole with '
              'mmdeploy; RLA backbones after switch_to_deploy().')
    elif args.deploy:
        print('Inference only; RLA backbones after switch_to_deploy(), '
              'baselines as built (no norm folded on either side).')
    print(
        to_markdown(results, 'ONNX Runtime' if args.onnxruntime else 'train'))
    print(f'[benchmark] wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
