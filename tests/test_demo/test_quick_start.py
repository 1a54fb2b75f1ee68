import json
import os.path as osp

import pytest
from mmengine.config import Config

from demo import quick_start

pytestmark = pytest.mark.timeout(900)


@pytest.mark.parametrize('config,backbone', [
    (quick_start.RLA_CONFIG, 'RLAResNet'),
    (quick_start.BASELINE_CONFIG, 'ResNet'),
])
def test_demo_configs_build(config, backbone):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    assert 'mmrla.engine' in cfg.custom_imports['imports']
    assert cfg.custom_hooks == [dict(type='ExactResumeHook')]
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == backbone
    assert model.backbone.depth == 18
    assert model.roi_head.bbox_head.num_classes == 3
    assert model.roi_head.mask_head.num_classes == 3
    assert cfg.val_evaluator.metric == ['bbox', 'segm']


@pytest.mark.slow
def test_shortened_demo_writes_all_outputs(tmp_path, capsys):
    work_dir = tmp_path / 'demo'
    data_root = tmp_path / 'shapes'
    assert quick_start.main([
        '--work-dir',
        str(work_dir), '--data-root',
        str(data_root), '--num-train', '4', '--num-val', '2', '--size', '64',
        '--epochs', '1', '--num-vis', '2'
    ]) == 0
    with open(work_dir / 'metrics.json') as f:
        summary = json.load(f)
    metrics = summary['rla']['metrics']
    for key in quick_start.METRIC_KEYS:
        assert 0.0 <= metrics[key] <= 1.0 or metrics[key] == -1.0
    assert osp.isfile(summary['rla']['checkpoint'])
    assert summary['rla']['backbone_params'] > 10_000_000
    with open(work_dir / 'curves.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    drawn = summary['drawn_images']
    assert len(drawn) == 2 and all(osp.isfile(p) for p in drawn)
    out = capsys.readouterr().out
    assert '| RLA-ResNet-18 |' in out
    assert str(work_dir / 'curves.png') in out
    # A second run reuses the dataset instead of regenerating it.
    stamp = data_root / 'generation.json'
    mtime = osp.getmtime(stamp)
    quick_start.ensure_dataset(
        quick_start.parse_args([
            '--data-root',
            str(data_root), '--num-train', '4', '--num-val', '2', '--size',
            '64'
        ]))
    assert osp.getmtime(stamp) == mtime


@pytest.mark.slow
def test_two_runs_train_the_same_weights(tmp_path):
    """The demo's training is seeded and, on CPU, deterministic: two runs
    end with the same weights to the last bit."""
    import torch
    args = quick_start.parse_args([
        '--data-root',
        str(tmp_path / 'shapes'), '--num-train', '4', '--num-val', '2',
        '--size', '64', '--epochs', '1'
    ])
    options = quick_start.train_options(args)
    assert 'randomness.seed=0' in options
    assert f'randomness.deterministic={not torch.cuda.is_available()}' in \
        options
    quick_start.ensure_dataset(args)
    weights = []
    for run in ('a', 'b'):
        quick_start.train(quick_start.RLA_CONFIG, str(tmp_path / run), args)
        checkpoint = torch.load(
            quick_start.latest_checkpoint(str(tmp_path / run)),
            map_location='cpu',
            weights_only=False)
        weights.append(checkpoint['state_dict'])
    assert weights[0].keys() == weights[1].keys()
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key
    assert 'randomness.seed=1' in quick_start.train_options(
        quick_start.parse_args(['--train-seed', '1']))
