"""A real 2-process run of tools/dist_train.sh on CPU (gloo, CPU DDP)."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import REPO, write_tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_cpu_training_keeps_ranks_in_sync(
        tiny_imagenet,  # noqa: F811
        tmp_path):
    # 8 training images, 2 ranks x batch 2: 2 iterations per rank; 64 px
    # keeps 2x2 maps at the end, so batch norm over 2 images stays sane. The
    # hook makes every rank save its final parameters.
    cfg = write_tiny_config(
        str(tmp_path / 'dist.py'),
        'mobilenetv2rla_2xb48_in1k.py',
        tiny_imagenet,
        batch_size=2,
        crop=64,
        extra="""
custom_imports = dict(
    imports=['mmrla.models', 'tests.fixtures.rank_weights_hook'],
    allow_failed_imports=False)
custom_hooks = [dict(type='SaveRankWeightsHook')]
""")
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(_free_port()),
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([
        'bash',
        osp.join(REPO, 'tools/dist_train.sh'), cfg, '2', '--work-dir',
        str(work_dir)
    ],
                          cwd=str(tmp_path),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # find_unused_parameters stays off: DDP would fail on an unused one.
    assert 'find_unused_parameters' not in open(cfg).read()
    ranks = [
        torch.load(work_dir / f'rank{r}_weights.pth', weights_only=True)
        for r in (0, 1)
    ]
    assert all(r['wrapper'] == 'MMRLADistributedDataParallel' for r in ranks)
    assert ranks[0]['params'].keys() == ranks[1]['params'].keys()
    for key, value in ranks[0]['params'].items():
        assert torch.isfinite(value).all(), key
        assert torch.equal(value, ranks[1]['params'][key]), key
    # Training happened (from the same broadcast start on every rank).
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2
    key = 'backbone.rla_recurrent_convs.0.weight'
    torch.testing.assert_close(ckpt['state_dict'][key],
                               ranks[1]['params'][key])
    log = proc.stdout + proc.stderr
    assert 'accuracy/top1' in log
    assert "'backend': 'gloo'" in log or 'gloo' in log


def test_cpu_launcher_errors_are_explained(monkeypatch, capsys):
    from tools.train import main
    cfg = osp.join(REPO, 'configs', 'mobilenetv2rla_2xb48_in1k.py')
    monkeypatch.delenv('RANK', raising=False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert main([
        cfg, '--launcher', 'pytorch', '--cfg-options',
        'train_dataloader.dataset.data_root=' + REPO,
        'val_dataloader.dataset.data_root=' + REPO,
        'train_dataloader.dataset.split=configs',
        'val_dataloader.dataset.split=configs'
    ]) == 2
    assert 'start the processes with tools/dist_train.sh' in \
        capsys.readouterr().err
    assert main([
        cfg, '--launcher', 'slurm', '--cfg-options',
        'train_dataloader.dataset.data_root=' + REPO,
        'val_dataloader.dataset.data_root=' + REPO,
        'train_dataloader.dataset.split=configs',
        'val_dataloader.dataset.split=configs'
    ]) == 2
    assert 'only --launcher pytorch' in capsys.readouterr().err
