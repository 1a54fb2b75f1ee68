"""``tools/dist_train.sh`` with 2 CPU processes (gloo) on Faster R-CNN.

The run must finish without ``find_unused_parameters`` (DDP raises on the
second iteration if any trainable parameter got no gradient in the first),
with both ranks holding identical weights that training changed, and with
the distributed COCO evaluation at the end.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.fixtures.det_configs import (REPO, cli_options, config_path,
                                        small_options)
from tests.fixtures.distributed import free_port, load_rank_dumps
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401


@pytest.mark.slow
def test_two_process_cpu_training(tiny_coco, tmp_path):
    dump_dir = tmp_path / 'ranks'
    # The real config plus a hook that dumps each rank's weights.
    config = tmp_path / 'faster_rcnn_dist.py'
    config.write_text(
        f"_base_ = {config_path('faster_rcnn', 'r50rla')!r}\n"
        "custom_imports = dict(imports=['mmrla.models', "
        "'tests.fixtures.distributed'], allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='DumpRankWeightsHook', "
        f"out_dir={str(dump_dir)!r})]\n")
    work_dir = tmp_path / 'work'
    # 4 images over 2 ranks: one iteration of 2 images per rank and epoch;
    # 2 epochs, so DDP checks in iteration 2 that iteration 1 used every
    # parameter; COCO val after epoch 2.
    options = small_options(tiny_coco, 'faster_rcnn', max_epochs=2)
    options['train_cfg.val_interval'] = 2
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1')
    proc = subprocess.run([
        'bash', 'tools/dist_train.sh',
        str(config), '2', '--work-dir',
        str(work_dir), '--cfg-options', *cli_options(options)
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert 'unused parameters' not in log.lower()

    ranks = load_rank_dumps(str(dump_dir), world_size=2, iters=2)
    final0, final1 = ranks[0]['final'], ranks[1]['final']
    # norm_eval keeps every batch norm's statistics, so the buffers agree
    # too.
    for key in final0:
        assert torch.equal(final0[key], final1[key]), key
    # Training moved the weights (the ranks saw different images, so equal
    # weights mean the gradients were all-reduced). Inside the residual
    # branches only the zero-initialized last norms get a gradient at first.
    for key in ('rpn_head.rpn_conv.weight', 'roi_head.bbox_head.fc_cls.weight',
                'backbone.layer4.2.bn3.weight',
                'backbone.layer2.0.downsample.0.weight'):
        assert not torch.equal(ranks[0]['initial'][key], final0[key]), key
    # The frozen stem stays as it was.
    assert torch.equal(ranks[0]['initial']['backbone.conv1.weight'],
                       final0['backbone.conv1.weight'])

    # Rank 0 saved the checkpoints and the gathered COCO evaluation.
    assert osp.isfile(work_dir / 'epoch_2.pth')
    scalars = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    assert len(scalars) == 1
    with open(scalars[0]) as f:
        records = [json.loads(line) for line in f]
    assert any('coco/bbox_mAP' in r for r in records)
