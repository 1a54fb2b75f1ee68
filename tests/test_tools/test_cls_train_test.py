"""End to end: tools/train.py, validation, --resume auto and tools/test.py
on a tiny ImageNet-format folder, with the real configs' models, optimizer,
scheduler, mmpretrain dataset and Accuracy metric."""
import json
import os.path as osp
import pickle

import pytest
import torch

from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import REPO, write_tiny_config


def _train(*args):
    from tools.train import main
    return main([str(a) for a in args])


def _test(*args):
    from tools.test import main
    return main([str(a) for a in args])


def _scalars(work_dir):
    """The records of the run's scalars.json (one per logged step)."""
    paths = sorted(
        osp.join(dp, f) for dp, _, fs in __import__('os').walk(work_dir)
        for f in fs if f == 'scalars.json')
    with open(paths[-1]) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_train_validate_resume_and_test(
        tiny_imagenet,  # noqa: F811
        tmp_path,
        capsys):
    # mmengine ends schedulers at max_epochs by default; keep the real
    # config's end (400) although this run stops after 1 epoch.
    cfg = write_tiny_config(
        str(tmp_path / 'mbv2.py'),
        'mobilenetv2rla_2xb48_in1k.py',
        tiny_imagenet,
        extra='param_scheduler = dict(end=400)')
    work_dir = tmp_path / 'work'
    # 8 images, batch 4: one epoch is 2 iterations, then validation.
    assert _train(cfg, '--work-dir', work_dir) == 0
    ckpt1 = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt1['meta']['epoch'] == 1 and ckpt1['meta']['iter'] == 2
    records = _scalars(work_dir)
    assert [r['iter'] for r in records if 'loss' in r] == [1, 2]
    val = [r for r in records if 'accuracy/top1' in r]
    assert len(val) == 1 and 0 <= val[0]['accuracy/top1'] <= 100
    # The paper's MobileNetV2 schedule: lr 0.045, x0.98 after each epoch.
    assert ckpt1['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.045 *
                                                                        0.98)

    # --resume auto continues from epoch_1.pth up to the new max_epochs.
    assert _train(cfg, '--work-dir', work_dir, '--resume', '--cfg-options',
                  'train_cfg.max_epochs=2') == 0
    ckpt2 = torch.load(
        work_dir / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert ckpt2['meta']['epoch'] == 2 and ckpt2['meta']['iter'] == 4
    records = _scalars(work_dir)
    assert [r['iter'] for r in records if 'loss' in r] == [3, 4]
    assert ckpt2['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        0.045 * 0.98**2)
    # Weights moved on from the resumed checkpoint.
    key = 'backbone.rla_recurrent_convs.0.weight'
    assert not torch.equal(ckpt1['state_dict'][key], ckpt2['state_dict'][key])

    # tools/test.py evaluates the checkpoint and dumps the predictions.
    out = tmp_path / 'preds.pkl'
    capsys.readouterr()
    assert _test(cfg, work_dir / 'epoch_2.pth', '--work-dir',
                 tmp_path / 'test', '--out', out) == 0
    printed = capsys.readouterr().out
    assert 'accuracy/top1' in printed and 'accuracy/top5' in printed
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4
    assert preds[0]['pred_score'].shape == (1000, )


@pytest.mark.slow
def test_resnet_config_trains_one_epoch(tiny_imagenet, tmp_path):  # noqa: F811
    cfg = write_tiny_config(
        str(tmp_path / 'r50eca.py'),
        'r50rlaeca_4xb64_in1k.py',
        tiny_imagenet,
        extra='model = dict(backbone=dict(depth=18), head=dict('
        'in_channels=512 + 32))')
    assert _train(cfg, '--work-dir', tmp_path / 'work', '--no-validate') == 0
    ckpt = torch.load(
        tmp_path / 'work' / 'epoch_1.pth',
        map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['iter'] == 2
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.1)
    assert 'backbone.layer4.1.eca.conv.weight' in ckpt['state_dict']


def test_missing_dataset_path_is_explained(tmp_path, capsys):
    cfg = write_tiny_config(
        str(tmp_path / 'mbv2.py'), 'mobilenetv2rla_2xb48_in1k.py',
        str(tmp_path / 'no_such_imagenet'))
    assert _train(cfg, '--work-dir', tmp_path / 'work') == 2
    err = capsys.readouterr().err
    assert 'no_such_imagenet' in err and 'does not exist' in err
    assert 'train_dataloader.dataset.data_root=' in err
    assert _test(cfg, __file__, '--work-dir', tmp_path / 'work') == 2
    assert 'test_dataloader.dataset.data_root=' in capsys.readouterr().err


def test_missing_split_folder_is_explained(
        tiny_imagenet,  # noqa: F811
        tmp_path,
        capsys):
    cfg = write_tiny_config(
        str(tmp_path / 'mbv2.py'),
        'mobilenetv2rla_2xb48_in1k.py',
        tiny_imagenet,
        extra="val_dataloader['dataset']['split'] = 'test'")
    assert _train(cfg, '--work-dir', tmp_path / 'work') == 2
    err = capsys.readouterr().err
    missing = osp.join(tiny_imagenet, 'test')
    assert f'val dataset split "{missing}" does not exist' in err
    assert 'val_dataloader.dataset.split' in err


def test_config_typos_are_explained(
        tiny_imagenet,  # noqa: F811
        tmp_path,
        capsys):
    cfg = write_tiny_config(
        str(tmp_path / 'typo.py'),
        'mobilenetv2rla_2xb48_in1k.py',
        tiny_imagenet,
        extra="model = dict(backbone=dict(type='RLAMobilenetV2'))")
    assert _train(cfg, '--work-dir', tmp_path / 'work') == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f'error: model.backbone.type = "RLAMobilenetV2" in {cfg} is not in '
        'the mmpretrain::model registry. Did you mean "RLAMobileNetV2", ')
    assert _train(osp.join(REPO, 'configs/r50rla_4xb46_in1k.py')) == 2
    err = capsys.readouterr().err
    assert 'does not exist' in err and 'r50rla_4xb64_in1k.py' in err
    assert _train(cfg, '--resume', str(tmp_path / 'nope.pth')) == 2
    assert 'nope.pth does not exist' in capsys.readouterr().err
