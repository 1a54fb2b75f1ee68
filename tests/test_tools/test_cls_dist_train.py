"""A real 2-process run of tools/dist_train.sh on CPU (gloo, CPU DDP)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.fixtures.distributed import free_port, load_rank_dumps
from tests.fixtures.tiny_imagenet import tiny_imagenet  # noqa: F401
from tests.fixtures.tiny_imagenet import REPO, write_tiny_config


@pytest.mark.slow
def test_two_process_cpu_training_keeps_ranks_in_sync(
        tiny_imagenet,  # noqa: F811
        tmp_path):
    # 8 training images, 2 ranks x batch 2: 2 iterations per rank; 64 px
    # keeps 2x2 maps at the end, so batch norm over 2 images stays sane. The
    # hook makes every rank save its weights.
    dump_dir = tmp_path / 'ranks'
    cfg = write_tiny_config(
        str(tmp_path / 'dist.py'),
        'mobilenetv2rla_2xb48_in1k.py',
        tiny_imagenet,
        batch_size=2,
        crop=64,
        extra=f"""
custom_imports = dict(
    imports=['mmrla.models', 'tests.fixtures.distributed'],
    allow_failed_imports=False)
custom_hooks = [dict(type='DumpRankWeightsHook', out_dir={str(dump_dir)!r})]
""")
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
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
    ranks = load_rank_dumps(str(dump_dir), world_size=2, iters=2)
    final0, final1 = ranks[0]['final'], ranks[1]['final']
    # Training happened, from the same broadcast start on every rank.
    key = 'backbone.rla_recurrent_convs.0.weight'
    assert not torch.equal(ranks[0]['initial'][key], final0[key])
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2
    torch.testing.assert_close(ckpt['state_dict'][key], final1[key])
    assert 'accuracy/top1' in proc.stdout + proc.stderr


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
