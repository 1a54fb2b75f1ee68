"""COCO evaluation of the detectors: CocoMetric on known predictions, and
``tools/train.py`` -> ``tools/test.py`` end to end on the tiny dataset."""
import ast
import glob
import json
import math
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmdet.datasets import CocoDataset
from mmdet.evaluation import CocoMetric
from pycocotools.coco import COCO

from tests.fixtures.det_configs import (REPO, cli_options, config_path,
                                        small_options)
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401

COCO_KEYS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def _gt_predictions(tiny, shift=0.0):
    """Data samples whose predictions are the ground truth of ``tiny``.

    Args:
        shift (float): Pixels to move every predicted box and mask right.
    """
    coco = COCO(tiny.ann_path)
    samples = []
    for image in tiny.images:
        anns = tiny.annotations_of(image['id'])
        boxes = np.array([a['bbox'] for a in anns], dtype=np.float32)
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        boxes[:, [0, 2]] += shift
        masks = np.stack([coco.annToMask(a) for a in anns]).astype(bool)
        masks = np.roll(masks, int(round(shift)), axis=2)
        samples.append(
            dict(
                img_id=image['id'],
                ori_shape=(image['height'], image['width']),
                pred_instances=dict(
                    bboxes=torch.from_numpy(boxes),
                    scores=torch.ones(len(anns)),
                    # Category ids 1..80 are listed in class order.
                    labels=torch.tensor([a['category_id'] - 1 for a in anns]),
                    masks=torch.from_numpy(masks))))
    return samples


def _evaluate(tiny, samples):
    metric = CocoMetric(ann_file=tiny.ann_path, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=CocoDataset.METAINFO['classes'])
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def test_ground_truth_as_predictions_scores_ap_one(tiny_coco):
    results = _evaluate(tiny_coco, _gt_predictions(tiny_coco))
    for task in ('bbox', 'segm'):
        for key in ('mAP', 'mAP_50', 'mAP_75'):
            assert results[f'coco/{task}_{key}'] == 1.0, (task, key)
        # The objects are 20-38 px: small and medium, none large (-1).
        assert results[f'coco/{task}_mAP_s'] == 1.0
        assert results[f'coco/{task}_mAP_m'] == 1.0
        assert results[f'coco/{task}_mAP_l'] == -1.0


def test_shifted_predictions_score_below_one(tiny_coco):
    # The control: the metric really compares predictions with the GT.
    results = _evaluate(tiny_coco, _gt_predictions(tiny_coco, shift=6.0))
    for task in ('bbox', 'segm'):
        assert 0.0 <= results[f'coco/{task}_mAP_75'] < 1.0
        assert results[f'coco/{task}_mAP'] < 1.0


def _run(tool, *args):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, f'tools/{tool}', *args],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _scalars(work_dir):
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        return [json.loads(line) for line in f]


# RetinaNet runs the same tools; its training and prediction are covered by
# tests/test_models/test_detectors.py, which keeps this module fast.
@pytest.mark.slow
@pytest.mark.parametrize('family', ['faster_rcnn', 'mask_rcnn'])
def test_train_then_test(family, tiny_coco, tmp_path):
    config = config_path(family, 'r50rla')
    options = cli_options(small_options(tiny_coco, family))
    tasks = ('bbox', 'segm') if family == 'mask_rcnn' else ('bbox', )

    # 1 epoch = 2 iterations of 2 images, then COCO val (val_interval=1).
    train_dir = str(tmp_path / 'train')
    _run('train.py', config, '--work-dir', train_dir, '--cfg-options',
         *options)
    records = _scalars(train_dir)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 2
    assert all(math.isfinite(v) and v > 0 for v in losses)
    val = [r for r in records if 'coco/bbox_mAP' in r]
    assert len(val) == 1
    checkpoint = osp.join(train_dir, 'epoch_1.pth')
    assert osp.isfile(checkpoint)

    test_dir = str(tmp_path / 'test')
    out = str(tmp_path / 'results.pkl')
    stdout = _run('test.py', config, checkpoint, '--work-dir', test_dir,
                  '--out', out, '--show-dir', 'vis', '--cfg-options', *options)
    printed = [
        line for line in stdout.splitlines()
        if line.startswith('{') and 'coco/bbox_mAP' in line
    ]
    assert printed, stdout[-3000:]
    metrics = ast.literal_eval(printed[-1])
    for task in tasks:
        for key in COCO_KEYS:
            value = metrics[f'coco/{task}_{key}']
            assert value == -1.0 or 0.0 <= value <= 1.0, (task, key, value)
    if family != 'mask_rcnn':
        assert not any(k.startswith('coco/segm') for k in metrics)

    # --out: one record per val image, in the original image frame.
    with open(out, 'rb') as f:
        dumped = pickle.load(f)
    assert sorted(d['img_id'] for d in dumped) == [1, 2, 3, 4]
    for record in dumped:
        bboxes = record['pred_instances']['bboxes']
        assert bboxes.ndim == 2 and bboxes.shape[1] == 4 and len(bboxes)
        assert ('masks' in record['pred_instances']) == (family == 'mask_rcnn')
    # --show-dir: one drawn image per val image, under the run's log dir.
    drawn = glob.glob(osp.join(test_dir, '*', 'vis', '*.png'))
    assert sorted(osp.basename(p) for p in drawn) == [
        i['file_name'] for i in tiny_coco.images
    ]
