"""Training with torch.compile through tools/train.py: a classifier with
mmengine's ``compile``, a detector with :class:`CompileBackboneHook`.

The compiler backend is ``aot_eager``: it traces forward and backward as
``inductor`` does (dynamo, then AOTAutograd's joint graph), and runs the
graphs with PyTorch's kernels instead of generating and building C++ code
for them, which did not finish the first iteration of the classifier in 20
minutes on the 2-core CPU of the test machine.
"""
import math
import os.path as osp

import pytest
import torch
from torch._dynamo.utils import counters

from tests.fixtures.det_configs import cli_options, config_path, small_options
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401
from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import write_tiny_config


def _train(*args):
    from tools.train import main
    return main([str(a) for a in args])


def _losses(work_dir):
    """The logged training losses: mmengine's scalars.json, or the text log
    where no visualizer backend wrote one."""
    import glob
    import json
    import re
    paths = glob.glob(osp.join(work_dir, '**', 'scalars.json'), recursive=True)
    if paths:
        with open(paths[0]) as f:
            return [r['loss'] for r in map(json.loads, f) if 'loss' in r]
    logs = glob.glob(osp.join(work_dir, '**', '*.log'), recursive=True)
    assert logs, sorted(glob.glob(osp.join(work_dir, '**'), recursive=True))
    with open(logs[0]) as f:
        return [
            float(m.group(1))
            for m in re.finditer(r'  loss: ([0-9.eE+-]+)', f.read())
        ]


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


@pytest.mark.slow
def test_classifier_trains_with_mmengine_compile(
        tiny_imagenet,  # noqa: F811
        tmp_path):
    cfg = write_tiny_config(
        str(tmp_path / 'r18rla.py'),
        'r50rla_4xb64_in1k.py',
        tiny_imagenet,
        extra='model = dict(backbone=dict(depth=18), head=dict('
        "in_channels=512 + 32))\ncompile = dict(backend='aot_eager')")
    work_dir = tmp_path / 'work'
    assert _train(cfg, '--work-dir', work_dir, '--no-validate') == 0
    losses = _losses(work_dir)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    # mmengine compiled model.train_step: dynamo made graphs of it.
    assert counters['stats']['unique_graphs'] > 0
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert 'backbone.rla_recurrent_convs.0.weight' in ckpt['state_dict']


@pytest.mark.slow
def test_detector_trains_with_compiled_backbone_and_neck(tiny_coco, tmp_path):
    # A config that adds the hook to one of ours, as a user would.
    cfg = tmp_path / 'faster_rcnn_compiled.py'
    cfg.write_text(f"""
_base_ = {config_path('faster_rcnn', 'r50rla')!r}
custom_hooks = [
    dict(type='ExactResumeHook'),
    dict(type='CompileBackboneHook', backend='aot_eager'),
]
""")
    options = small_options(tiny_coco, 'faster_rcnn')
    options['model.backbone.depth'] = 18
    options['model.neck.in_channels'] = '[64,128,256,512]'
    work_dir = tmp_path / 'work'
    # 1 epoch = 2 iterations of 2 images, then COCO validation.
    assert _train(cfg, '--work-dir', work_dir, '--cfg-options',
                  *cli_options(options)) == 0
    losses = _losses(work_dir)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    # The backbone and the neck, in training and in eval mode: one graph
    # each, and nothing compiled again for the second iteration or image.
    assert counters['stats']['unique_graphs'] == 4
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert 'backbone.conv1.weight' in ckpt['state_dict']
    assert not any('_orig_mod' in k for k in ckpt['state_dict'])


def test_compiling_a_whole_detector_is_explained(tiny_coco, capsys):
    options = cli_options(small_options(tiny_coco, 'faster_rcnn'))
    assert _train(
        config_path('faster_rcnn', 'r50rla'), '--cfg-options', *options,
        'compile=True') == 2
    err = capsys.readouterr().err
    assert err.startswith('error: compile=True cannot compile an mmdet '
                          'detector') and 'CompileBackboneHook' in err
    assert err.count('\n') == 1
