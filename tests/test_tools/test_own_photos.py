"""docs/own_data.md's walks, from a folder of photographs to a trained
model's named predictions, run command by command as the page writes them
(only smaller: one epoch, small images), for detection and classification;
and the Mask R-CNN recipe and the class order end to end."""
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
from typing import List

import pytest
import torch

from tests.fixtures.console import REPO, screen
from tests.fixtures.own_photos import (FOLDER_CLASSES, write_own_coco,
                                       write_own_folder)

DOCS = osp.join(REPO, 'docs', 'own_data.md')
OWN = osp.join(REPO, 'configs', 'own_data')

# What the walks shrink, per command; the rest is the page's.
# Loaders in the test's own process, for both tasks.
IN_PROCESS_LOADERS = [
    f'{s}_dataloader.{k}' for s in ('train', 'val', 'test')
    for k in ('num_workers=0', 'persistent_workers=False')
]
DET_SMALL = [
    'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
    'model.train_cfg.rpn_proposal.max_per_img=100',
    'model.train_cfg.rcnn.sampler.num=32', 'model.test_cfg.rpn.max_per_img=50',
    'model.test_cfg.rcnn.max_per_img=20', 'model.test_cfg.rcnn.score_thr=0.0',
    'train_dataloader.dataset.pipeline.2.scale=(64,64)',
    'val_dataloader.dataset.pipeline.1.scale=(64,64)',
    'test_dataloader.dataset.pipeline.1.scale=(64,64)'
] + IN_PROCESS_LOADERS
CLS_SMALL = [
    'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
    'train_dataloader.batch_size=4', 'val_dataloader.batch_size=4',
    'test_dataloader.batch_size=4',
    'train_dataloader.dataset.pipeline.1.scale=32',
    'val_dataloader.dataset.pipeline.1.scale=36',
    'val_dataloader.dataset.pipeline.2.crop_size=32',
    'test_dataloader.dataset.pipeline.1.scale=36',
    'test_dataloader.dataset.pipeline.2.crop_size=32'
] + IN_PROCESS_LOADERS


def walk(title: str) -> List[str]:
    """The commands of the ``bash`` blocks of the page's section
    ``title``, in order."""
    with open(DOCS, encoding='utf-8') as f:
        text = f.read()
    section = text.split(f'\n## {title}\n', 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'```bash\n(.*?)```', section, re.S)
    return [
        line.strip() for block in blocks for line in block.splitlines()
        if line.strip()
    ]


def example_output(title: str, after: str) -> List[str]:
    """The lines of the plain block that follows the command ``after``."""
    with open(DOCS, encoding='utf-8') as f:
        text = f.read()
    section = text.split(f'\n## {title}\n', 1)[1].split('\n## ', 1)[0]
    # Past the fence that closes the command's block.
    rest = section.split(after, 1)[1].split('```', 1)[1]
    block = re.search(r'```\n(.*?)```', rest, re.S)[1]
    return [line.strip() for line in block.splitlines() if line.strip()]


def run_as_written(command: str, cwd, small: List[str],
                   epochs: str) -> subprocess.CompletedProcess:
    """Run a command of the page in ``cwd`` (which holds ``data/``): the
    repository's tools, one epoch, the ``small`` settings added to
    ``--cfg-options`` of the training and testing tools."""
    args = shlex.split(command.replace(f'epoch_{epochs}.pth', 'epoch_1.pth'))
    assert args[0] == 'python', command
    args = [sys.executable] + [
        osp.join(REPO, a) if a.startswith(
            ('tools/', 'demo/', 'configs/')) else a for a in args[1:]
    ]
    tool = osp.basename(args[1])
    if tool in ('train.py', 'test.py'):
        assert args[-2].startswith('--cfg-options') or '--cfg-options' in \
            args, command
        args += small
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=REPO)
    return subprocess.run(
        args,
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=900)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_detection_walk(tmp_path):
    data = write_own_coco(tmp_path / 'data' / 'my_photos', broken=False)
    title = 'Detection: from your photos to named predictions'
    commands = walk(title)
    assert [shlex.split(c)[1] for c in commands] == [
        'tools/misc/check_data.py', 'tools/train.py', 'tools/test.py',
        'demo/det_demo.py'
    ]
    check, train, test, demo = commands
    # The page shows what the check prints on these photographs.
    out = ok(run_as_written(check, tmp_path, [], '12'))
    assert out.splitlines() == example_output(title, check)
    ok(run_as_written(train, tmp_path, DET_SMALL, '12'))
    work = tmp_path / 'work_dirs' / 'my_detector'
    meta = torch.load(
        work / 'epoch_1.pth', map_location='cpu',
        weights_only=False)['meta']['dataset_meta']
    classes = ('person', 'gift box', 'médaille militaire', 'face')
    assert meta['classes'] == classes
    assert meta['category_ids'] == (3, 7, 11, 15)
    metrics = ok(run_as_written(test, tmp_path, DET_SMALL, '12'))
    assert 'coco/bbox_mAP' in metrics.splitlines()[-1]
    ok(run_as_written(demo, tmp_path, [], '12'))
    out = tmp_path / 'outputs' / 'my_detector'
    assert sorted(os.listdir(out / 'vis')) == ['hopper.jpg', 'present.jpg']
    pred = json.loads((out / 'preds' / 'hopper.json').read_text())
    assert len(pred['labels']) > 0
    assert pred['label_names'] == [classes[i] for i in pred['labels']]
    assert pred['category_ids'] == [(3, 7, 11, 15)[i] for i in pred['labels']]
    results = json.loads((out / 'coco_results.json').read_text())
    val = {i['file_name']: i['id'] for i in data.load('val')['images']}
    assert {r['file_name'] for r in results} == set(val)
    for r in results:
        assert r['image_id'] == val[r['file_name']]
        assert r['category_id'] == dict(zip(
            classes, (3, 7, 11, 15)))[r['category_name']]
        assert len(r['bbox']) == 4 and r['bbox'][2] >= 0


@pytest.mark.slow
def test_classification_walk(tmp_path):
    write_own_folder(tmp_path / 'data' / 'my_folder', broken=False)
    commands = walk('Classification: from your photos to named predictions')
    assert [shlex.split(c)[1] for c in commands] == [
        'tools/misc/check_data.py', 'tools/train.py', 'tools/test.py',
        'demo/image_demo.py'
    ]
    check, train, test, demo = commands
    out = ok(run_as_written(check, tmp_path, [], '120'))
    # The WebP is read: 7 training images.
    assert out.splitlines()[0] == (
        'data check, train: 7 images in data/my_folder/train, all load')
    ok(run_as_written(train, tmp_path, CLS_SMALL, '120'))
    checkpoint = tmp_path / 'work_dirs' / 'my_classifier' / 'epoch_1.pth'
    meta = torch.load(
        checkpoint, map_location='cpu', weights_only=False)['meta']
    assert meta['dataset_meta']['classes'] == FOLDER_CLASSES
    assert 'accuracy/top1' in ok(
        run_as_written(test, tmp_path, CLS_SMALL, '120'))
    lines = screen(ok(run_as_written(demo, tmp_path, [], '120')))
    assert lines[0].endswith('hopper.jpg')
    # Names from the checkpoint, not ImageNet's.
    ranked = [
        re.match(r'  \d\. (.+) \(class (\d)\): ', line).groups()
        for line in lines[1:3]
    ]
    assert [FOLDER_CLASSES[int(i)]
            for _, i in ranked] == [name for name, _ in ranked]


@pytest.mark.slow
def test_mask_rcnn_recipe_trains_and_tests_on_photos(tmp_path):
    data = write_own_coco(tmp_path / 'photos', broken=False)
    config = osp.join(OWN, 'mask_rcnn_r50rla_fpn_1x_own_coco.py')
    options = [
        '--cfg-options', f'data_root={data.root}',
        'model.backbone.init_cfg=None',
        'model.test_cfg.rcnn.mask_thr_binary=0.0'
    ] + DET_SMALL
    work = tmp_path / 'work'
    run = [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir',
        str(work)
    ] + options
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=REPO)
    ok(
        subprocess.run(
            run,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900))
    state = torch.load(
        work / 'epoch_1.pth', map_location='cpu',
        weights_only=False)['state_dict']
    assert state['roi_head.mask_head.conv_logits.weight'].shape[0] == 4
    test = [
        sys.executable,
        osp.join(REPO, 'tools', 'test.py'), config,
        str(work / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 't')
    ] + options
    metrics = ok(
        subprocess.run(
            test,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900)).splitlines()[-1]
    assert 'coco/segm_mAP' in metrics and 'coco/bbox_mAP' in metrics


@pytest.mark.slow
def test_reordered_classes_train_and_predict_their_own_names(tmp_path):
    """A reordered subset of the file's classes, through training (leaving
    out the broken files, with --skip-broken), the checkpoint's
    dataset_meta and the demo's predictions."""
    data = write_own_coco(tmp_path / 'photos')
    classes = ('person', 'gift box')  # the file lists gift box first
    # A user's config: the recipe with a classes line (mmengine's
    # --cfg-options drops the spaces of a value).
    config = tmp_path / 'my_detector.py'
    recipe = osp.join(OWN, 'faster_rcnn_r50rla_fpn_1x_own_coco_640.py')
    config.write_text(
        f'_base_ = {recipe!r}\n'
        f'classes = {classes!r}\n'
        'train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))'
        '\nval_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))'
        '\ntest_dataloader = val_dataloader\n')
    options = [
        '--cfg-options', f'data_root={data.root}',
        'model.backbone.init_cfg=None'
    ] + DET_SMALL
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONPATH=REPO)
    work = tmp_path / 'work'

    def tool(*args):
        return ok(
            subprocess.run([sys.executable, *map(str, args)],
                           cwd=REPO,
                           env=env,
                           capture_output=True,
                           text=True,
                           timeout=900))

    out = tool(
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work,
        '--skip-broken', *options)
    assert [line for line in out.splitlines() if 'skipped' in line] == [
        f'skipped (train): {path} ({problem})'
        for path, problem in zip(data.broken, ('truncated', 'missing'))
    ]
    meta = torch.load(
        work / 'epoch_1.pth', map_location='cpu',
        weights_only=False)['meta']['dataset_meta']
    assert meta['classes'] == classes and meta['category_ids'] == (3, 7)
    tool(
        osp.join(REPO, 'demo', 'det_demo.py'),
        osp.join(data.root, 'val',
                 'present.jpg'), config, work / 'epoch_1.pth', '--out-dir',
        tmp_path / 'out', '--pred-score-thr', '0', *options[:2])
    pred = json.loads(
        (tmp_path / 'out' / 'preds' / 'present.json').read_text())
    assert pred['label_names'] == [classes[i] for i in pred['labels']]
    assert pred['category_ids'] == [(3, 7)[i] for i in pred['labels']]
