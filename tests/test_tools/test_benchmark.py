import json
import os.path as osp
import statistics
import subprocess
import sys
import types

import pytest

from tests.fixtures.console import run_tool
from tools.analysis_tools import benchmark

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

pytestmark = pytest.mark.timeout(600)


@pytest.mark.slow
def test_benchmark_runs_and_writes_well_formed_json(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    assert benchmark.main([
        '--groups', 'resnet', '--models', 'RLA-ResNet-50', '--img-size', '32',
        '--batch-sizes', '1', '2', '--train-batch', '2', '--warmup', '1',
        '--repeats', '2', '--train-repeats', '1', '--allocator', 'default',
        '--out',
        str(out)
    ]) == 0
    with open(out) as f:
        report = json.load(f)
    assert report['meta']['device'] == 'cpu'
    assert report['meta']['allocator'] == 'default'
    assert report['meta']['command'].startswith(
        'python tools/analysis_tools/benchmark.py --groups resnet')
    rows = report['results']
    assert [r['model'] for r in rows] == ['ResNet-50', 'RLA-ResNet-50']
    base, rla = rows
    assert rla['baseline'] == 'ResNet-50'
    assert base['params'] == 25_557_032
    assert rla['params'] == 25_870_696
    assert rla['flops'] > base['flops'] > 0
    for key in ('infer_b1', 'infer_b2', 'train_b2'):
        for row in rows:
            fig = row[key]
            assert fig['n'] == (1 if key.startswith('train') else 2)
            assert 0 < fig['min_ms'] <= fig['median_ms'] <= fig['max_ms']
        assert base[key]['ratio'] == 1.0
        # Per-round ratios: the models ran back to back in each round.
        rounds = [
            t / b
            for t, b in zip(rla[key]['samples_ms'], base[key]['samples_ms'])
        ]
        assert rla[key]['ratio'] == pytest.approx(
            statistics.median(rounds), rel=0.01)
        assert rla[key]['ratio_of_medians'] == pytest.approx(
            rla[key]['median_ms'] / base[key]['median_ms'], rel=0.01)
    for row in rows:
        mem = row['memory']
        assert mem['peak_rss_mb'] >= mem['rss_before_mb'] > 0
        assert mem['step_mb'] >= 0
    table = capsys.readouterr().out
    assert '| RLA-ResNet-50 | 25.87M |' in table


@pytest.mark.slow
def test_benchmark_output_is_its_table_and_a_few_progress_lines(tmp_path):
    # A subprocess: what a user sees, mmengine's loggers included.
    proc = run_tool('tools/analysis_tools/benchmark.py', '--groups', 'resnet',
                    '--models', 'RLA-ResNet-50', '--img-size', '32',
                    '--batch-sizes', '1', '2', '--train-batch', '2',
                    '--warmup', '1', '--repeats', '2', '--train-repeats', '1',
                    '--skip-memory', '--out', tmp_path / 'bench.json')
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = proc.stdout.splitlines()  # Python's import warnings included
    assert len(lines) < 60, '\n'.join(lines[:80])
    assert not any('init_weights' in line for line in lines)
    assert '[benchmark] resnet: building ResNet-50, RLA-ResNet-50' in lines
    assert '[benchmark] resnet: inference, batch 2: 2 rounds' in lines
    assert any(line.startswith('| RLA-ResNet-50 |') for line in lines)


@pytest.mark.slow
def test_onnxruntime_times_the_exported_models_with_their_memory(tmp_path):
    """--onnxruntime: each model exported whole with mmdeploy, timed in ONNX
    Runtime beside its peer, and its serving memory measured."""
    out = tmp_path / 'bench.json'
    onnx_dir = tmp_path / 'onnx'
    assert benchmark.main([
        '--onnxruntime', '--groups', 'mobilenet', 'det', '--img-size', '32',
        '--det-size', '96', '64', '--batch-sizes', '1', '2', '--warmup', '1',
        '--repeats', '2', '--onnx-dir',
        str(onnx_dir), '--out',
        str(out)
    ]) == 0
    with open(out) as f:
        report = json.load(f)
    assert report['meta']['onnxruntime'] and report['meta']['deploy']
    rows = report['results']
    assert [r['model'] for r in rows] == [
        'MobileNetV2', 'RLA-MobileNetV2', 'Faster R-CNN R50',
        'Faster R-CNN RLA-R50'
    ]
    for row in rows:
        args = types.SimpleNamespace(onnx_dir=str(onnx_dir))
        assert osp.isfile(benchmark.onnx_path(row['model'], args))
        detector = 'R-CNN' in row['model']
        keys = ('infer_b1', ) if detector else ('infer_b1', 'infer_b2')
        for key in keys:
            assert row[key]['n'] == 2 and row[key]['median_ms'] > 0
        assert 'feat_b1' not in row and 'train_b16' not in row
        mem = row['memory']
        assert mem['step_mb'] > 0
        assert mem['batch'] == (1 if detector else 2)
    assert rows[1]['deployed'] and rows[3]['deployed']
    assert rows[1]['infer_b2']['ratio'] > 0


def test_onnxruntime_refuses_options_it_does_not_take(capsys):
    assert benchmark.main(['--onnxruntime', '--compile']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: --onnxruntime times ONNX Runtime on the '
                          'CPU') and err.count('\n') == 1


def test_benchmark_rejects_unknown_models(capsys):
    assert benchmark.main(['--models', 'ResNet-5O']) == 2
    assert "unknown --models ['ResNet-5O']" in capsys.readouterr().err


@pytest.mark.slow
def test_stable_allocator_takes_effect_in_a_fresh_process():
    # A subprocess: the setting is process-wide and must not leak into the
    # test session.
    code = ('from tools.analysis_tools.benchmark import stabilize_allocator; '
            'print(stabilize_allocator())')
    out = subprocess.run([sys.executable, '-c', code],
                         cwd=REPO,
                         capture_output=True,
                         text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == 'True'


def test_adaptive_roi_sampling_is_fixed_for_detectors():
    import torch.nn as nn
    from mmcv.ops import RoIAlign
    model = nn.ModuleList([RoIAlign(7, 1 / 16, 0), RoIAlign(7, 1 / 8, 3)])
    benchmark.fix_roi_sampling(model)
    assert [m.sampling_ratio for m in model] == [2, 3]


@pytest.mark.slow
def test_fastpaths_group_times_plain_fast_and_deployed_models(tmp_path):
    out = tmp_path / 'fast.json'
    assert benchmark.main([
        '--groups', 'fastpaths-mobilenet', '--img-size', '32', '--batch-sizes',
        '1', '2', '--train-batch', '2', '--warmup', '1', '--repeats', '2',
        '--train-repeats', '1', '--skip-memory', '--out',
        str(out)
    ]) == 0
    with open(out) as f:
        rows = json.load(f)['results']
    assert [r['model'] for r in rows] == [
        'RLA-MobileNetV2 plain', 'RLA-MobileNetV2 fast',
        'RLA-MobileNetV2 deploy'
    ]
    # Same model, same parameters; a deployed model only infers.
    assert len({r['params'] for r in rows}) == 1
    assert all('infer_b2' in r for r in rows)
    assert 'train_b2' in rows[1] and 'train_b2' not in rows[2]


@pytest.mark.slow
def test_deploy_times_rla_models_deployed_and_baselines_as_built(tmp_path):
    out = tmp_path / 'deploy.json'
    assert benchmark.main([
        '--groups', 'mobilenet', '--deploy', '--img-size', '32',
        '--batch-sizes', '1', '2', '--warmup', '1', '--repeats', '2', '--out',
        str(out)
    ]) == 0
    with open(out) as f:
        report = json.load(f)
    assert report['meta']['deploy'] is True
    base, rla = report['results']
    assert (base['deployed'], rla['deployed']) == (False, True)
    for row in (base, rla):
        assert 'infer_b1' in row and 'infer_b2' in row
        # A deployed model does not train: no training step, no memory.
        assert not any(k.startswith('train_') for k in row)
        assert 'memory' not in row


@pytest.mark.slow
def test_table14_and_resnet101_groups_beside_the_papers_figures(
        tmp_path, capsys):
    out = tmp_path / 't14.json'
    assert benchmark.main([
        '--groups', 'resnet', 'resnet101', '--models', 'ECA-ResNet-50',
        'SE-ResNet-101', 'RLA-ResNet-101', '--img-size', '32', '--batch-sizes',
        '1', '2', '--train-batch', '2', '--warmup', '1', '--repeats', '1',
        '--train-repeats', '1', '--skip-memory', '--allocator', 'default',
        '--out',
        str(out)
    ]) == 0
    with open(out) as f:
        rows = json.load(f)['results']
    assert [(r['group'], r['model'], r['baseline']) for r in rows] == [
        ('resnet', 'ResNet-50', 'ResNet-50'),
        ('resnet', 'ECA-ResNet-50', 'ResNet-50'),
        ('resnet101', 'ResNet-101', 'ResNet-101'),
        ('resnet101', 'SE-ResNet-101', 'ResNet-101'),
        ('resnet101', 'RLA-ResNet-101', 'ResNet-101'),
    ]
    # ECA-ResNet-50 is ResNet-50 plus one 5- or 7-tap kernel per block.
    assert rows[1]['params'] - rows[0]['params'] == 86
    assert rows[4]['params'] == 45_003_176
    assert all('train_b2' in r and 'infer_b2' in r for r in rows)
    table = capsys.readouterr().out
    assert ' | train 1.21x (1161 s), eval 1.01x (1.17 ms) |' in table
    assert '| RLA-ResNet-101 | 45.00M |' in table
    assert table.count(' | train 1.') == 3


def test_benchmark_times_a_model_from_a_file_outside_the_repository(
        tmp_path, capsys):
    """--external imports a model file with its relative imports (as the
    authors' ``models/resnet_rla.py`` has) and times it beside the group."""
    folder = tmp_path / 'their_repo' / 'models'
    folder.mkdir(parents=True)
    (folder / '__init__.py').write_text('raise ImportError("not run")\n')
    (folder / 'layers.py').write_text('import torch.nn as nn\n'
                                      'WIDTH = 8\n')
    (folder / 'net.py').write_text(
        'import torch.nn as nn\n'
        'from .layers import WIDTH\n\n\n'
        'def tiny_net():\n'
        '    return nn.Sequential(nn.Conv2d(3, WIDTH, 3), nn.ReLU(),\n'
        '                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n'
        '                         nn.Linear(WIDTH, 1000))\n')
    out = tmp_path / 'bench.json'
    assert benchmark.main([
        '--groups', 'resnet', '--models', 'Tiny (theirs)', '--img-size', '32',
        '--batch-sizes', '1', '2', '--train-batch', '2', '--warmup', '1',
        '--repeats', '2', '--train-repeats', '1', '--allocator', 'default',
        '--skip-memory', '--external',
        f'Tiny (theirs)={folder / "net.py"}:tiny_net', '--out',
        str(out)
    ]) == 0
    rows = json.load(open(out))['results']
    assert [r['model'] for r in rows] == ['ResNet-50', 'Tiny (theirs)']
    assert rows[1]['params'] == 3 * 8 * 9 + 8 + 8 * 1000 + 1000
    assert rows[1]['infer_b2']['n'] == 2 and rows[1]['train_b2']['n'] == 1
    with pytest.raises(SystemExit, match='NAME=FILE:FUNCTION'):
        benchmark.main(['--external', 'no-function-here'])
    with pytest.raises(SystemExit, match='no file'):
        benchmark.main(['--external', f'X={tmp_path}/missing.py:f'])


def _graphs_of_models(monkeypatch, models: int, allow: bool) -> int:
    """Compile ``models`` classifiers as ``--compile`` does, run each in
    inference at two batch sizes and in training; graphs compiled."""
    import torch
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    counter = CompileCounter()
    real = torch.compile
    with monkeypatch.context() as patch:
        patch.setattr(torch, 'compile',
                      lambda fn, **kw: real(fn, backend=counter, **kw))
        _run_models(models, allow)
    torch._dynamo.reset()
    return counter.frame_count


def _run_models(models: int, allow: bool) -> None:
    import torch
    from mmpretrain.models import ImageClassifier
    if allow:
        benchmark.allow_graphs_of_every_model(models)
    for i in range(models):
        # Different models, as a group's are (alike ones share graphs).
        model = benchmark.compiled(
            ImageClassifier(backbone=dict(type='LeNet5', num_classes=2 + i)))
        model.eval()
        with torch.no_grad():
            for batch in (1, 2):
                model(torch.rand(batch, 1, 32, 32), mode='tensor')
        model.train()
        model(torch.rand(2, 1, 32, 32), mode='tensor')[0].sum().backward()


def test_compile_keeps_every_model_of_a_group_compiled(monkeypatch):
    # Models share ImageClassifier.forward: past dynamo's default cache
    # limit (8 graphs of one code object), the last would run eagerly.
    import torch

    # config.patch restores both limits, whatever the benchmark sets.
    with torch._dynamo.config.patch(
            cache_size_limit=8, accumulated_cache_size_limit=256):
        assert _graphs_of_models(monkeypatch, 4, allow=False) == 8
        assert _graphs_of_models(monkeypatch, 4, allow=True) == 12
    assert torch._dynamo.config.cache_size_limit == 8
