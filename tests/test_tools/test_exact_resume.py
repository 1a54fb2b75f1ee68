"""Kill a training run with SIGKILL after a checkpoint, resume it with
``--resume``, and get the weights of an uninterrupted run: the demo's Mask
R-CNN (RLA-ResNet-18) on tiny synthetic shapes, trained by ``tools/train.py``
and by a 2-process CPU ``tools/dist_train.sh``.

Mask R-CNN samples anchors and RoIs at random, drops nothing, and flips
images at random in its pipeline (here in a persistent worker process), so
every generator a resume must restore is used.
"""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmrla.datasets.synthetic import generate_shapes
from mmrla.engine.safe_load import load_checkpoint_file
from tests.fixtures.det_configs import DEMO_CONFIG, NARROW_DEMO_MODEL
from tests.fixtures.distributed import free_port
from tests.fixtures.tiny_imagenet import REPO

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes(root, num_train=8, num_val=1, size=64, seed=0)
    return root


def _config(path, shapes: str, train_cfg: str, num_workers: int) -> str:
    """The demo config, a quarter as wide, on ``shapes`` at 64 px, with
    checkpoints every 3 iterations."""
    path.write_text(f"""
_base_ = {DEMO_CONFIG!r}
{NARROW_DEMO_MODEL}
train_dataloader = dict(
    batch_size=2, num_workers={num_workers},
    persistent_workers={num_workers > 0},
    dataset=dict(
        data_root={shapes + '/'!r},
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')
        ]))
train_cfg = {train_cfg}
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=3, max_keep_ckpts=-1))
randomness = dict(seed=0)
""")
    return str(path)


def _command(config: str, work_dir, processes: int, *args) -> list:
    if processes == 1:
        return [
            sys.executable, 'tools/train.py', config, '--work-dir',
            str(work_dir), '--no-validate', *args
        ]
    return [
        'bash', 'tools/dist_train.sh', config,
        str(processes), '--work-dir',
        str(work_dir), '--no-validate', *args
    ]


def _env() -> dict:
    return dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='')


def _train(config, work_dir, processes, *args) -> str:
    proc = subprocess.run(
        _command(config, work_dir, processes, *args),
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    return log


def _descendants(pid: int) -> list:
    """The processes started by ``pid``, and by those, and so on."""
    children = {}
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                parent = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process has ended
        children.setdefault(parent, []).append(int(stat.split('/')[2]))
    found, todo = [], [pid]
    while todo:
        started = children.get(todo.pop(), [])
        found += started
        todo += started
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (ended processes may linger as zombies
    until init reaps them)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _train_and_kill(config, work_dir, processes) -> None:
    """Start training; SIGKILL it, all its processes, once a checkpoint is
    complete, i.e. once CheckpointHook has named it in last_checkpoint."""
    proc = subprocess.Popen(
        _command(config, work_dir, processes),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    marker = osp.join(work_dir, 'last_checkpoint')
    deadline = time.monotonic() + 300
    try:
        while not osp.exists(marker) and proc.poll() is None:
            assert time.monotonic() < deadline, 'no checkpoint in 300 s'
            time.sleep(0.02)
    finally:
        # torchrun starts its workers in sessions of their own.
        tree = _descendants(proc.pid)
        for pid in tree + [proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it had ended
        proc.wait()
        while any(_alive(pid) for pid in tree):
            assert time.monotonic() < deadline + 60
            time.sleep(0.02)
    assert proc.returncode == -signal.SIGKILL, \
        f'training ended ({proc.returncode}) before it could be killed'


def _weights(path) -> dict:
    # As the resumed run read it: weights-only.
    return load_checkpoint_file(str(path), map_location='cpu')


def _labels(log: str) -> list:
    """The iteration labels of the training log lines, e.g. '[2][3/4]'."""
    return re.findall(r'(?:Epoch|Iter)\(train\)\s*(\[[\d/]+\](?:\[[\d/]+\])?)',
                      log)


def _assert_resume_is_exact(tmp_path, config, processes, last) -> None:
    full_log = _train(config, tmp_path / 'full', processes)
    work_dir = tmp_path / 'killed'
    _train_and_kill(config, work_dir, processes)
    log = _train(config, work_dir, processes, '--resume')
    resumed_at = int(re.search(r'resumed epoch: \d+, iter: (\d+)', log)[1])
    assert 0 < resumed_at < last
    # The resumed run labels its iterations as the uninterrupted one did
    # (within the epoch too: [2][3/4], not [2][1/4]).
    assert _labels(log) and _labels(log) == _labels(full_log)[resumed_at:]
    full = _weights(tmp_path / 'full' / f'iter_{last}.pth')
    resumed = _weights(work_dir / f'iter_{last}.pth')
    # The generator states of every process travelled with it.
    assert len(resumed['exact_resume']['rng']) == processes
    state, expected = resumed['state_dict'], full['state_dict']
    assert state.keys() == expected.keys()
    max_diff = max(
        (state[k].double() - expected[k].double()).abs().max().item()
        for k in expected if expected[k].numel())
    assert max_diff == 0.0, f'resumed at iteration {resumed_at}'
    # Training moved the weights after the checkpoint it resumed from.
    start = _weights(work_dir / f'iter_{resumed_at}.pth')
    assert not torch.equal(start['state_dict']['rpn_head.rpn_conv.weight'],
                           state['rpn_head.rpn_conv.weight'])


@pytest.mark.slow
def test_killed_and_resumed_detector_ends_as_uninterrupted(tmp_path, shapes):
    # 8 images, batches of 2: 4 iterations per epoch, 2 epochs; checkpoints
    # every 2 iterations, so resuming lands in the middle of an epoch.
    config = _config(
        tmp_path / 'mask_rcnn.py',
        shapes,
        'dict(max_epochs=2, val_interval=10)',
        num_workers=1)
    _assert_resume_is_exact(tmp_path, config, processes=1, last=8)


@pytest.mark.slow
def test_killed_and_resumed_distributed_run_ends_as_uninterrupted(
        tmp_path, shapes):
    # 2 processes x 2 images: 2 iterations per pass over the data, iterated
    # by IterBasedTrainLoop over 3 passes.
    config = _config(
        tmp_path / 'mask_rcnn_dist.py',
        shapes, "dict(_delete_=True, type='IterBasedTrainLoop', max_iters=6, "
        'val_interval=100)',
        num_workers=0)
    _assert_resume_is_exact(tmp_path, config, processes=2, last=6)
