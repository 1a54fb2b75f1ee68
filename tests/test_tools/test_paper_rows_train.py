"""The configs of the papers' last rows train a few iterations on tiny data
through tools/train.py (the DPN ResNet-164, RLA-vector with M = 4,
SE-ResNet-18/50/101 on the layer-attention recipe); a run whose total batch
is not the recipe's says so in one line."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.fixtures.tiny_cifar import tiny_cifar  # noqa: F401
from tests.fixtures.tiny_cifar import tiny_cifar_root  # noqa: F401
from tests.fixtures.tiny_cifar import cifar_options
from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import REPO, write_tiny_config
from tools.train import batch_size_note


def _train(*args):
    from tools.train import main
    return main([str(a) for a in args])


def _options(options):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def _notes(text):
    return [line for line in text.splitlines() if line.startswith('note:')]


@pytest.mark.slow
@pytest.mark.parametrize('config,key', [
    ('cifar/ablations/r164-dpn_b128_cifar10.py',
     'backbone.stages.2.17.conv3.weight'),
    ('layer_attention/la-resnet56-vector-m4_b128_cifar10.py',
     'backbone.lstm.weight_hh'),
])
def test_cifar_configs_train(
        config,
        key,
        tiny_cifar,  # noqa: F811
        tmp_path,
        capsys):
    work_dir = tmp_path / 'work'
    options = cifar_options(tiny_cifar)
    if config.startswith('cifar/'):
        # RLA-Net's recipe holds out training images for validation.
        options.update({
            'train_dataloader.dataset.num_val': 4,
            'val_dataloader.dataset.num_val': 4
        })
    # 16 (or 12) images, batch 8: one epoch is 2 iterations.
    assert _train(
        osp.join(REPO, 'configs', config), '--work-dir', work_dir,
        *_options(options)) == 0
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2
    state = ckpt['state_dict']
    assert key in state
    if 'vector' in config:
        # M = 4 hidden units.
        assert state[key].shape == (4 * 4, 4)
    assert _notes(capsys.readouterr().out) == [
        "note: total batch 8 (1 x 8) differs from the recipe's 128 "
        '(auto_scale_lr.base_batch_size) and the learning rate is not '
        'scaled; add --auto-scale-lr to scale it by 8/128.'
    ]


@pytest.mark.slow
@pytest.mark.parametrize('depth', [18, 50, 101])
def test_se_resnet_imagenet_configs_train(
        depth,
        tiny_imagenet,  # noqa: F811
        tmp_path,
        capsys):
    cfg = write_tiny_config(
        str(tmp_path / 'se.py'),
        f'layer_attention/se-resnet{depth}_4xb64_in1k.py', tiny_imagenet)
    work_dir = tmp_path / 'work'
    assert _train(cfg, '--work-dir', work_dir) == 0
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2
    assert any('.se.' in k for k in ckpt['state_dict'])
    assert not any('lstm' in k for k in ckpt['state_dict'])
    group = ckpt['optimizer']['param_groups'][0]
    assert group['nesterov'] and group['lr'] == pytest.approx(0.1)
    assert len(_notes(capsys.readouterr().out)) == 1
    # With --auto-scale-lr the rate is scaled and nothing is said.
    assert _train(cfg, '--work-dir', tmp_path / 'scaled', '--auto-scale-lr',
                  '--cfg-options', 'train_cfg.max_epochs=1') == 0
    assert _notes(capsys.readouterr().out) == []
    ckpt = torch.load(
        tmp_path / 'scaled' / 'epoch_1.pth',
        map_location='cpu',
        weights_only=False)
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.1 *
                                                                       4 / 256)


def _cfg(batch, base, enable=False):
    return Config(
        dict(
            train_dataloader=dict(batch_size=batch),
            auto_scale_lr=dict(base_batch_size=base, enable=enable)))


def test_batch_size_note(monkeypatch):
    # The detection recipes: 4 GPUs x 2 images for lr 0.01.
    det = Config.fromfile(
        osp.join(REPO, 'configs', 'faster_rcnn_r50rla_fpn_1x_coco.py'))
    assert batch_size_note(det, 'none') == (
        "note: total batch 2 (1 x 2) differs from the recipe's 8 "
        '(auto_scale_lr.base_batch_size) and the learning rate is not '
        'scaled; add --auto-scale-lr to scale it by 2/8.')
    monkeypatch.setenv('WORLD_SIZE', '4')
    assert batch_size_note(det, 'pytorch') is None
    # The launcher's process count, not the environment, without one.
    assert batch_size_note(det, 'none') is not None
    assert batch_size_note(_cfg(64, 256), 'pytorch') is None
    assert '(4 x 32)' in batch_size_note(_cfg(32, 256), 'pytorch')
    assert batch_size_note(_cfg(2, 8, enable=True), 'none') is None
    monkeypatch.delenv('WORLD_SIZE')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    assert '(8 x 64)' in batch_size_note(_cfg(64, 256), 'slurm')
    # A config without a reference batch has nothing to compare.
    assert batch_size_note(
        Config(dict(train_dataloader=dict(batch_size=2))), 'none') is None
