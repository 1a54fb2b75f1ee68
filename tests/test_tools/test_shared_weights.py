"""tools/visualization/shared_weights.py: RLA-Net's Figure 3 (shared 1x1
weights per lag / source layer) and DenseNet's Figure 5 per source, from a
checkpoint of a short tools/train.py run or an untrained model."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures.console import REPO, run_tool, screen
from tests.fixtures.tiny_cifar import cifar_options, tiny_cifar_root
from tools.visualization.shared_weights import exponential_fit, main

FOLDER = osp.join(REPO, 'configs', 'cifar', 'densenet')
LAG = osp.join(FOLDER, 'densenet-bc100-shared-lag_b128_cifar10.py')
ORDINAL = osp.join(FOLDER, 'densenet-bc100-shared-ordinal_b128_cifar10.py')
DENSE = osp.join(FOLDER, 'densenet-bc100_b128_cifar10.py')
# DenseNet-BC 28: 4 layers a block, 3 shared slots, 24 + 48 = 72 -> 36 ->
# 84 -> 42 -> 90 output channels.
SMALL = {'model.backbone.depth': 28, 'model.head.in_channels': 90}
SMALL_ARGS = ['--cfg-options'] + [f'{k}={v}' for k, v in SMALL.items()]

assert tiny_cifar_root  # a fixture, used by name below


@pytest.fixture(scope='module')
def lag_checkpoint(tiny_cifar_root, tmp_path_factory):
    """One epoch of tools/train.py with the Shared-Lag config (DenseNet-BC
    28) on the tiny CIFAR set: the best checkpoint (with the config text
    mmengine saves in it)."""
    from mmrla.datasets.synthetic import cifar_shapes
    from mmrla.datasets.synthetic.cifar_shapes import disable_md5_checks
    from tools.train import main as train
    options = dict(SMALL, **cifar_options(tiny_cifar_root))
    for split in ('train', 'val'):
        options[f'{split}_dataloader.dataset.num_val'] = 4
    work_dir = tmp_path_factory.mktemp('lag')
    patch = pytest.MonkeyPatch()
    disable_md5_checks(patch.setattr)
    # The tool turns them off too: for this fixture only.
    patch.setattr(cifar_shapes, 'disable_md5_checks',
                  lambda: disable_md5_checks(patch.setattr))
    try:
        assert train([LAG, '--work-dir',
                      str(work_dir), '--cfg-options'] +
                     [f'{k}={v}' for k, v in options.items()]) == 0
    finally:
        patch.undo()
    (best, ) = work_dir.glob('best_accuracy_top1_epoch_1.pth')
    return best


def _png(path):
    with Image.open(path) as img:
        assert img.format == 'PNG' and min(img.size) > 200
        pixels = np.asarray(img.convert('RGB'))
    assert pixels.std() > 0  # something is drawn


@pytest.mark.slow
def test_trained_checkpoint(lag_checkpoint, tmp_path, capsys):
    path = lag_checkpoint
    out_dir = tmp_path / 'out'
    assert main([LAG, str(path), '--out-dir', str(out_dir)] + SMALL_ARGS) == 0
    printed = capsys.readouterr().out
    assert printed.count('exp. fit') == 3 and 'lag 1..3' in printed
    for name in ('shared_weights.png', 'source_weights.png'):
        _png(out_dir / name)
    with open(out_dir / 'shared_weights.json') as f:
        result = json.load(f)
    assert result['aggregation'] == 'shared_lag'
    assert result['x_label'] == 'Lag' and result['checkpoint'] == str(path)
    assert result['seed'] is None
    # The values are the trained weights' average absolute values, slot j
    # being lag j.
    state = torch.load(
        path, map_location='cpu', weights_only=False)['state_dict']
    for i, block in enumerate(result['blocks']):
        assert block['x'] == [1, 2, 3]
        weight = state[f'backbone.stages.{i}.shared_conv.weight']
        expected = [
            weight[:, 12 * j:12 * (j + 1)].abs().mean().item()
            for j in range(3)
        ]
        np.testing.assert_allclose(block['values'], expected, rtol=1e-6)
        fit = block['fit']
        x, y = np.array(block['x']), np.array(block['values'])
        residual = y - fit['a'] * np.exp(-fit['b'] * x)
        r2 = 1 - (residual**2).sum() / ((y - y.mean())**2).sum()
        assert fit['r2'] == pytest.approx(r2)
    # DenseNet's Figure 5 table, rows t = 1..4, columns s = 0..3.
    table = result['source_weights'][0]
    assert len(table) == 4 and table[0][1] is None
    assert table[3][1] == pytest.approx(result['blocks'][0]['values'][2])


def test_random_model_and_overlay(tmp_path, capsys):
    out_dir = tmp_path / 'out'
    assert main([
        ORDINAL, '--random', '--seed', '3', '--norm', 'l2', '--overlay',
        '--out-dir',
        str(out_dir)
    ]) == 0
    with open(out_dir / 'shared_weights.json') as f:
        result = json.load(f)
    assert result['aggregation'] == 'shared_ordinal'
    assert result['x_label'] == 'Source layer' and result['seed'] == 3
    assert result['norm'] == 'l2' and result['checkpoint'] is None
    # DenseNet-BC 100: 15 shared slots a block, He-initialized (fan-out
    # std sqrt(2 / 48)): the Frobenius norm of a 48 x 12 slot is about
    # sqrt(48 * 12 * 2 / 48) = 4.9.
    assert [len(b['values']) for b in result['blocks']] == [15, 15, 15]
    assert np.allclose([b['values'] for b in result['blocks']],
                       24**0.5,
                       rtol=0.15)
    _png(out_dir / 'shared_weights.png')
    # Seeded: the same numbers again.
    assert main([
        ORDINAL, '--random', '--seed', '3', '--norm', 'l2', '--out-dir',
        str(tmp_path / 'again')
    ]) == 0
    with open(tmp_path / 'again' / 'shared_weights.json') as f:
        assert json.load(f)['blocks'] == result['blocks']
    capsys.readouterr()


def test_dense_model_draws_the_source_map_only(tmp_path, capsys):
    out_dir = tmp_path / 'out'
    assert main([DENSE, '--random', '--out-dir',
                 str(out_dir)] + SMALL_ARGS) == 0
    assert 'shares no weights' in capsys.readouterr().out
    assert not (out_dir / 'shared_weights.png').exists()
    _png(out_dir / 'source_weights.png')
    with open(out_dir / 'shared_weights.json') as f:
        result = json.load(f)
    assert 'blocks' not in result and len(result['source_weights']) == 3


@pytest.mark.slow
def test_wrong_inputs_are_explained(lag_checkpoint, tmp_path, capsys):
    path = lag_checkpoint
    # The other shared variant has the same weights: the saved config tells.
    assert main([ORDINAL, str(path)] + SMALL_ARGS) == 2
    err = capsys.readouterr().err
    assert "trained with aggregation='shared_lag'" in err
    assert "builds aggregation='shared_ordinal'" in err
    # The dense model's 1x1 convs do not fit.
    assert main([DENSE, str(path)] + SMALL_ARGS) == 2
    err = capsys.readouterr().err
    assert 'does not fit the model' in err and 'shared_conv' in err
    assert "aggregation='dense'" in err
    # Another depth.
    assert main([LAG, str(path)]) == 2
    assert 'another shape' in capsys.readouterr().err
    assert main([LAG, str(tmp_path / 'none.pth')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    other = osp.join(REPO, 'configs', 'layer_attention',
                     'la-resnet20_b128_cifar10.py')
    assert main([other, '--random']) == 2
    err = capsys.readouterr().err
    assert 'is LayerAttentionResNet, not LayerAggregationDenseNet' in err


@pytest.mark.parametrize('args,message', [
    ([], 'give a checkpoint or --random'),
    (['x.pth', '--random'], 'both were given'),
])
def test_checkpoint_or_random(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main([LAG] + args)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_exponential_fit():
    x = np.arange(1, 16)
    fit = exponential_fit(x, 2.0 * np.exp(-0.7 * x) + 0.0)
    assert fit['a'] == pytest.approx(2.0, rel=1e-6)
    assert fit['b'] == pytest.approx(0.7, rel=1e-6)
    assert fit['r2'] == pytest.approx(1.0)
    # A growing curve: negative rate.
    assert exponential_fit(x, np.exp(0.1 * x))['b'] == pytest.approx(-0.1)
    # A line is not exponential: R^2 < 1 but still high; noise is low.
    assert 0.8 < exponential_fit(x, 16.0 - x)['r2'] < 0.99
    noise = np.random.default_rng(0).random(15)
    assert exponential_fit(x, noise)['r2'] < 0.5


@pytest.mark.slow
def test_help():
    proc = run_tool('tools/visualization/shared_weights.py', '--help')
    assert proc.returncode == 0
    lines = screen(proc.stdout)
    assert lines[0].startswith('usage: shared_weights.py')
    assert any('--random' in line for line in lines)
