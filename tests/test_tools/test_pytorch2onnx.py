"""tools/deployment/pytorch2onnx.py: every classifier and the R50/R101
detection backbone+neck export, and onnxruntime matches PyTorch.

Two criteria: the issue's absolute one (at most 1e-4) and a relative one
(1e-5 of the largest output), which is what catches a wrong graph on
random weights: ONNX's ceil-mode average pooling counted the missing border
pixels, which put the logits off by 1e-3 of their size at odd input sizes
but by less than 1e-4 absolutely. Correct exports differ by about 1e-6 of
it (float32 rounding).
"""
import os.path as osp
import subprocess
import sys

import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmrla.models.utils import pool_hidden_state
from mmrla.models.utils.export_ops import HiddenStatePool
from tests.fixtures.det_configs import config_path
from tests.fixtures.sizes import is_deep, slow_if_deep, slow_where
from tools.deployment.pytorch2onnx import (build_exportable,
                                           compare_with_onnxruntime, export,
                                           main, verify_shapes)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIGS = ('r50rla_4xb64_in1k.py', 'r50rlaeca_4xb64_in1k.py',
               'r101rla_4xb64_in1k.py', 'r101rlaeca_4xb64_in1k.py',
               'r152rla_4xb64_in1k.py', 'r152rlaeca_4xb64_in1k.py',
               'mobilenetv2rla_2xb48_in1k.py',
               'mobilenetv2rlaeca_2xb48_in1k.py')
ABS_TOL, REL_TOL = 1e-4, 1e-5


def _model(config: str, deploy: bool = False):
    cfg = Config.fromfile(config)
    if cfg.get('default_scope') == 'mmdet':
        cfg.model.backbone.init_cfg = None  # no ImageNet file in tests
    torch.manual_seed(0)
    module, task = build_exportable(cfg)
    if task == 'classification':
        # The training-time initialization, and logits of size 1 that come
        # from the features alone (not from the classifier's bias), so that
        # both criteria are meaningful.
        module.classifier.init_weights()
        fc = module.classifier.head.fc
        fc.bias.data.zero_()
        with torch.no_grad():
            fc.weight /= module(torch.rand(1, 3, 64, 64)).abs().max()
    if deploy:
        module.classifier.backbone.switch_to_deploy()
    return module, task


def _assert_matches(results, count):
    assert len(results) == count
    for r in results:
        assert r['max_abs_output'] > 1e-3, r  # a real signal
        assert r['max_abs_diff'] <= ABS_TOL, r
        assert r['max_abs_diff'] <= REL_TOL * r['max_abs_output'], r


# The ECA variants and the deep models in the full run only.
@pytest.mark.parametrize(
    'name', slow_where(CLS_CONFIGS,
                       lambda name: is_deep(name) or 'eca' in name))
def test_classifiers_export_with_dynamic_shapes(name, tmp_path):
    module, task = _model(osp.join(REPO, 'configs', name))
    assert task == 'classification'
    out = str(tmp_path / 'model.onnx')
    assert export(module, out, (64, 64), dynamic=True) == ['logits']
    # The export's size, then batch 2 at 49x81 (odd, another aspect).
    shapes = verify_shapes((64, 64), 1, dynamic=True)
    assert shapes == [(1, 64, 64), (2, 49, 81)]
    _assert_matches(
        compare_with_onnxruntime(module, out, shapes, ABS_TOL, 0), 2)


@pytest.mark.parametrize(
    'family,backbone',
    slow_if_deep([('faster_rcnn', 'r50rla'), ('retinanet', 'r101rlaeca')]))
def test_detection_backbone_and_neck_export(family, backbone, tmp_path):
    module, task = _model(config_path(family, backbone))
    assert task == 'detection'
    out = str(tmp_path / 'feats.onnx')
    names = export(module, out, (64, 96), dynamic=True)
    assert names == [f'feat{i}' for i in range(5)]  # P2-P6 / P3-P7
    graph = onnx.load(out).graph
    assert [o.name for o in graph.output] == names
    _assert_matches(
        compare_with_onnxruntime(module, out, verify_shapes((64, 96), 1, True),
                                 ABS_TOL, 0), 2)


@pytest.mark.parametrize(
    'name', ['r50rla_4xb64_in1k.py', 'mobilenetv2rla_2xb48_in1k.py'])
@pytest.mark.parametrize(
    'deploy', [False, pytest.param(True, marks=pytest.mark.slow)])
def test_static_export_at_an_odd_size(name, deploy, tmp_path):
    """A static graph at 65x47; deployed models (norms folded, RLA-ResNet's
    update convs stacked with the next conv1, RLA-MobileNetV2's convs over
    cat(e, h) on the parts) export as exactly."""
    module, _ = _model(osp.join(REPO, 'configs', name), deploy)
    out = str(tmp_path / 'model.onnx')
    export(module, out, (65, 47))
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    assert [d for d in session.get_inputs()[0].shape] == [1, 3, 65, 47]
    _assert_matches(
        compare_with_onnxruntime(module, out, [(1, 65, 47)], ABS_TOL, 0), 1)


@pytest.mark.parametrize('pool', [pool_hidden_state, HiddenStatePool.apply])
def test_hidden_state_pooling_exports_exactly(pool, tmp_path):
    """The cause of the wrong exports: ONNX's AveragePool with ceil_mode
    divides a border window by its full size unless count_include_pad=0.
    The deployed RLA-ResNet's form pads the end instead of ceil_mode."""

    class Pool(torch.nn.Module):

        def forward(self, h):
            return pool(h, 2)

    out = str(tmp_path / 'pool.onnx')
    torch.onnx.export(
        Pool(),
        torch.rand(1, 2, 6, 6),
        out,
        input_names=['h'],
        dynamic_axes={'h': {
            2: 'height',
            3: 'width'
        }},
        opset_version=17)
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    h = torch.rand(1, 2, 7, 9)
    expected = Pool()(h)
    torch.testing.assert_close(
        torch.from_numpy(session.run(None, {'h': h.numpy()})[0]),
        expected,
        rtol=0,
        atol=1e-6)
    # The border windows average the pixels that exist.
    torch.testing.assert_close(expected[..., -1, -1], h[..., -1, -1])
    assert not torch.allclose(expected, F.avg_pool2d(
        F.pad(h, (0, 1, 0, 1)), 2))
    node, = onnx.load(out).graph.node
    attributes = {
        a.name: onnx.helper.get_attribute_value(a)
        for a in node.attribute
    }
    assert attributes['count_include_pad'] == 0
    if pool is HiddenStatePool.apply:
        assert attributes['pads'] == [0, 0, 1, 1] and 'ceil_mode' not in \
            attributes


@pytest.mark.slow  # exports full-size models
@pytest.mark.parametrize(
    'name', ['r50rla_4xb64_in1k.py', 'mobilenetv2rla_2xb48_in1k.py'])
def test_deployed_models_run_in_nchwc_in_onnx_runtime(name, tmp_path):
    """ONNX Runtime runs the deployed graph in its blocked NCHWc layout,
    each sum and activation fused into a conv, with no reorder between:
    its NCHWc kernels have no Split and take the sizes of a ceil_mode pool
    or of a zero state as unknown (docs/deployment.md, "Speed of the
    deployed models")."""
    module, _ = _model(osp.join(REPO, 'configs', name), deploy=True)
    out = str(tmp_path / 'model.onnx')
    export(module, out, (64, 64), dynamic=True)
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert not ops & {'Split', 'ConstantOfShape'}, ops
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / 'optimized.onnx')
    ort.InferenceSession(out, options, providers=['CPUExecutionProvider'])
    nodes = onnx.load(options.optimized_model_filepath).graph.node
    if not any(n.domain == 'com.microsoft.nchwc' for n in nodes):
        pytest.skip('ONNX Runtime has no NCHWc kernels for this CPU')
    # Nothing returns to NCHW before the head (the features with the read-out
    # of h, their global pooling, the size of the features that the neck
    # reads), and no activation or norm is left to run on its own.
    made_by = {name: n.op_type for n in nodes for name in n.output}
    read_by = {}
    for n in nodes:
        for name in n.input:
            read_by.setdefault(name, set()).add(n.op_type)
    reordered = [
        made_by.get(n.input[0], n.input[0]) for n in nodes
        if n.op_type.startswith('Reorder')
        and read_by.get(n.output[0]) != {'Shape'}
    ]
    assert set(reordered) <= {'Concat', 'GlobalAveragePool'}, reordered
    alone = [n.op_type for n in nodes if n.domain != 'com.microsoft.nchwc']
    assert not set(alone) & {'Relu', 'Clip', 'Tanh', 'BatchNormalization'}, \
        alone
    # Every sum fuses into a conv but the residual sums of RLA-MobileNetV2,
    # whose branch output also feeds the update conv (they run in NCHWc
    # too, on their own).
    residual_sums = sum(
        getattr(m, 'use_res_connect', False)
        for m in module.classifier.backbone.modules())
    assert alone.count('Add') == residual_sums, alone


@pytest.mark.slow  # traces a full-size RLA-ResNet-50
def test_jit_trace_follows_other_sizes():
    module, _ = _model(osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py'))
    with torch.no_grad():
        traced = torch.jit.trace(module, torch.rand(1, 3, 64, 64))
        x = torch.rand(2, 3, 49, 81)
        torch.testing.assert_close(traced(x), module(x), rtol=0, atol=1e-6)


def test_tool_exports_and_verifies(tmp_path, capsys):
    out = tmp_path / 'mbv2.onnx'
    code = main([
        osp.join(REPO, 'configs', 'mobilenetv2rla_2xb48_in1k.py'), '--out',
        str(out), '--shape', '64', '64', '--dynamic'
    ])
    text = capsys.readouterr().out
    assert code == 0, text
    assert 'onnx.checker: ok' in text
    assert 'at (1, 3, 64, 64)' in text and 'at (2, 3, 49, 81)' in text
    assert 'random weights' in text
    graph = onnx.load(str(out)).graph
    dims = [
        d.dim_param or d.dim_value
        for d in graph.input[0].type.tensor_type.shape.dim
    ]
    assert dims == ['batch', 3, 'height', 'width']


def test_tool_loads_a_checkpoint_and_refuses_a_wrong_one(tmp_path, capsys):
    config = osp.join(REPO, 'configs', 'mobilenetv2rla_2xb48_in1k.py')
    module, _ = _model(config)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.01)
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': module.classifier.state_dict()}, good)
    built, _ = build_exportable(Config.fromfile(config), str(good))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(built(x), module(x))
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {
        'backbone.conv1.weight': torch.zeros(1)
    }}, wrong)
    assert main([config, str(wrong), '--out', str(tmp_path / 'x.onnx')]) == 2
    assert 'does not fit the model' in capsys.readouterr().err
    assert main([config, '--out', str(tmp_path / 'x.pt')]) == 2
    assert '--out must name a .onnx file' in capsys.readouterr().err


@pytest.mark.slow
def test_help():
    result = subprocess.run(
        [sys.executable, 'tools/deployment/pytorch2onnx.py', '--help'],
        cwd=REPO,
        capture_output=True,
        text=True)
    assert result.returncode == 0
    assert '--dynamic' in result.stdout and '--shape H W' in result.stdout
