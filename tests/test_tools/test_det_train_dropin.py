"""mmdet configs with ``type='RLAResNet'`` train through ``tools/train.py``:
the Cascade R-CNN DCN example of configs/ and mmdet's GCNet Mask R-CNN with
the type changed, on the tiny COCO data."""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.fixtures.det_configs import REPO, cli_options, small_options
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401


def _train(config, work_dir, options):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--no-validate', '--cfg-options', *cli_options(options)
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(files[0]) as f:
        losses = [json.loads(line)['loss'] for line in f if '"loss"' in line]
    state = torch.load(
        osp.join(work_dir, 'epoch_1.pth'),
        map_location='cpu',
        weights_only=False)['state_dict']
    return losses, state


@pytest.mark.slow
def test_cascade_rcnn_with_dcn_trains(tiny_coco, tmp_path):
    # mmcv's deformable conv needs maps of 3x3 or more: stage 4 of an image
    # of at least 96x96 (the tiny images at full size).
    options = small_options(tiny_coco, 'faster_rcnn', scale=(128, 96))
    # Cascade R-CNN: three R-CNN stages, each with its own sampler.
    del options['model.train_cfg.rcnn.sampler.num']
    for stage in range(3):
        options[f'model.train_cfg.rcnn.{stage}.sampler.num'] = 32
    losses, state = _train(
        osp.join('configs', 'cascade_rcnn_r50rla_dconv_c3_c5_fpn_1x_coco.py'),
        str(tmp_path / 'work'), options)
    assert len(losses) == 2 and all(math.isfinite(v) and v > 0 for v in losses)
    # Deformable convs in stages 2-4, with offsets that left zero.
    offset = state['backbone.layer2.0.conv2.conv_offset.weight']
    assert offset.any()
    assert 'backbone.layer1.0.conv2.conv_offset.weight' not in state
    assert 'backbone.rla_recurrent_convs.3.weight' in state


@pytest.mark.slow
def test_mmdet_gcnet_config_trains_with_the_type_changed(tiny_coco, tmp_path):
    config = tmp_path / 'mask_rcnn_r50rla_gcb.py'
    config.write_text(
        "_base_ = 'mmdet::gcnet/mask-rcnn_r50-gcb-r4-c3-c5_fpn_1x_coco.py'\n"
        'custom_imports = dict(imports=[\'mmrla.models\'], '
        'allow_failed_imports=False)\n'
        "model = dict(backbone=dict(type='RLAResNet'))\n")
    losses, state = _train(
        str(config), str(tmp_path / 'work'),
        small_options(tiny_coco, 'mask_rcnn'))
    assert len(losses) == 2 and all(math.isfinite(v) and v > 0 for v in losses)
    # GCNet blocks after conv3 of stages 2-4; their zero-initialized last
    # conv learned.
    last = state['backbone.layer3.0.context_block.channel_add_conv.3.weight']
    assert last.any()
    assert 'backbone.layer1.0.context_block.conv_mask.weight' not in state
    # Detection mode in mmdet's scope: no read-out of h.
    assert not any(k.startswith('backbone.rla_out_norm') for k in state)
