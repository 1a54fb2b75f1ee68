"""The recipes of configs/own_data/ (docs/own_data.md), copied as a user
copies them, train with ``tools/train.py`` and evaluate with
``tools/test.py`` on generated data: detection on COCO-format files,
classification on an image folder without meta files, and the CIFAR recipe
on a folder of small images. A config whose classes disagree with the data
stops with one line before the runner starts."""
import ast
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmrla.datasets.synthetic.cifar_shapes import write_image_folders
from mmrla.datasets.synthetic.shapes import CLASSES, generate_shapes
from tests.fixtures.console import REPO, screen
from tests.fixtures.tiny_imagenet import make_tiny_imagenet

OWN = osp.join(REPO, 'configs', 'own_data')


def copy_recipe(name: str, folder, **variables) -> str:
    """Copy ``configs/own_data/{name}`` into ``folder`` as a user does,
    setting its top-level ``variables`` (e.g. ``data_root``)."""
    with open(osp.join(OWN, name)) as f:
        text = f.read()
    base = re.search(r"^_base_ = '(.+)'$", text, re.M)[1]
    text = text.replace(f"'{base}'", repr(osp.normpath(osp.join(OWN, base))))
    for key, value in variables.items():
        text, count = re.subn(rf'^{key} = .*$', f'{key} = {value!r}', text, 1,
                              re.M)
        assert count == 1, key
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def run(tool: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f'tools/{tool}', *map(str, args)],
                          cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS='2'),
                          capture_output=True,
                          text=True,
                          timeout=600)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # mmengine's notices about its own FileClient use are dropped.
    for notice in ('"FileClient" will be deprecated', '"HardDiskBackend"'):
        assert notice not in proc.stdout + proc.stderr
    return proc.stdout


def metrics_of(stdout: str) -> dict:
    return ast.literal_eval(stdout.strip().splitlines()[-1])


def common(splits=('train', 'val', 'test')) -> list:
    options = ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1']
    for split in splits:
        options += [
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False'
        ]
    return options


@pytest.fixture(scope='module')
def shapes_coco(tmp_path_factory) -> str:
    """COCO-format data of 3 categories (circle, square, triangle)."""
    root = str(tmp_path_factory.mktemp('own_coco'))
    generate_shapes(root, num_train=4, num_val=2, size=64, seed=0)
    return root + '/'


DET_SMALL = [
    'model.backbone.init_cfg=None', 'train_dataloader.batch_size=2',
    'model.train_cfg.rpn_proposal.max_per_img=100',
    'model.train_cfg.rcnn.sampler.num=32', 'model.test_cfg.rpn.max_per_img=50',
    'model.test_cfg.rcnn.max_per_img=20', 'model.test_cfg.rcnn.score_thr=0.0'
]


@pytest.mark.slow
def test_detection_recipe_reads_the_classes_from_the_annotation_file(
        shapes_coco, tmp_path):
    config = copy_recipe(
        'faster_rcnn_r50rla_fpn_1x_own_coco.py',
        tmp_path,
        data_root=shapes_coco,
        scale=(64, 64))
    work = tmp_path / 'work'
    ok(
        run('train.py', config, '--work-dir', work, '--cfg-options', *common(),
            *DET_SMALL))
    checkpoint = torch.load(
        work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    # The annotation file's three categories, in id order; heads sized so.
    assert checkpoint['meta']['dataset_meta']['classes'] == CLASSES
    assert checkpoint['state_dict']['roi_head.bbox_head.fc_cls.weight'].shape[
        0] == len(CLASSES) + 1
    stdout = ok(
        run('test.py', config, work / 'epoch_1.pth', '--work-dir',
            tmp_path / 'test', '--cfg-options', *common(), *DET_SMALL))
    metrics = metrics_of(stdout)
    assert -1 <= metrics['coco/bbox_mAP'] <= 1


def test_smaller_scale_recipe_changes_only_the_scale():
    from mmengine.config import Config
    full = Config.fromfile(
        osp.join(OWN, 'faster_rcnn_r50rla_fpn_1x_own_coco.py'))
    small = Config.fromfile(
        osp.join(OWN, 'faster_rcnn_r50rla_fpn_1x_own_coco_640.py'))
    for split in ('train', 'val', 'test'):
        ours = small[f'{split}_dataloader'].dataset
        theirs = full[f'{split}_dataloader'].dataset
        assert [t.get('scale') for t in ours.pipeline
                if t.get('scale')] == [(640, 400)]
        assert [t['type'] for t in ours.pipeline
                ] == [t['type'] for t in theirs.pipeline]
        assert ours.ann_file == theirs.ann_file
    assert small.model == full.model


@pytest.mark.slow
def test_classification_recipe_on_a_folder_without_meta_files(tmp_path):
    root = write_image_folders(str(tmp_path / 'folder'), 6, 3, 3, size=48)
    config = copy_recipe('r50rla_own_folder.py', tmp_path, data_root=root)
    small = [
        'train_dataloader.batch_size=3', 'val_dataloader.batch_size=3',
        'test_dataloader.batch_size=3',
        'train_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader.dataset.pipeline.1.scale=36',
        'val_dataloader.dataset.pipeline.2.crop_size=32',
        'test_dataloader.dataset.pipeline.1.scale=36',
        'test_dataloader.dataset.pipeline.2.crop_size=32'
    ]
    work = tmp_path / 'work'
    ok(
        run('train.py', config, '--work-dir', work, '--cfg-options', *common(),
            *small))
    checkpoint = torch.load(
        work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    # One class per subfolder, sorted, and a head of that many outputs.
    assert checkpoint['meta']['dataset_meta']['classes'] == tuple(
        sorted(CLASSES))
    assert checkpoint['state_dict']['head.fc.weight'].shape[0] == 3
    metrics = metrics_of(
        ok(
            run('test.py', config, work / 'epoch_1.pth', '--work-dir',
                tmp_path / 'test', '--cfg-options', *common(), *small)))
    # Top-5 of 3 classes does not exist: top-1 only.
    assert list(metrics) == ['accuracy/top1']
    correct = metrics['accuracy/top1'] * 3 / 100  # of 3 val images
    assert correct == pytest.approx(round(correct), abs=1e-3)


@pytest.mark.slow
def test_cifar_recipe_on_a_folder(tmp_path):
    root = write_image_folders(str(tmp_path / 'cifar'), 8, 4, 4)
    config = copy_recipe(
        'r110rla_b128_own_cifar_folder.py', tmp_path, data_root=root)
    batches = [f'{s}_dataloader.batch_size=4' for s in ('train', 'val')]
    work = tmp_path / 'work'
    ok(
        run('train.py', config, '--work-dir', work, '--cfg-options', *common(),
            *batches))
    best, = glob.glob(str(work / 'best_accuracy_top1_epoch_1.pth'))
    checkpoint = torch.load(best, map_location='cpu', weights_only=False)
    assert checkpoint['meta']['dataset_meta']['classes'] == tuple(
        sorted(CLASSES))
    assert checkpoint['state_dict']['head.fc.weight'].shape[0] == 3
    metrics = metrics_of(
        ok(
            run('test.py', config, best, '--work-dir', tmp_path / 'test',
                '--cfg-options', *common(), 'test_dataloader.batch_size=4')))
    assert list(metrics) == ['accuracy/top1']


def _train_in_process(*args) -> int:
    from tools.train import main
    return main([str(a) for a in args])


def test_coco_config_on_other_classes_says_so_in_one_line(
        shapes_coco, tmp_path, capsys):
    config = osp.join(REPO, 'configs', 'faster_rcnn_r50rla_fpn_1x_coco.py')
    options = [
        f'train_dataloader.dataset.data_root={shapes_coco}',
        'train_dataloader.dataset.ann_file=annotations/instances_train.json',
        'train_dataloader.dataset.data_prefix.img=train/',
        'model.backbone.init_cfg=None'
    ]
    assert _train_in_process(config, '--work-dir', tmp_path / 'work',
                             '--no-validate', '--cfg-options', *options) == 2
    out = capsys.readouterr()
    assert out.out == ''
    lines = screen(out.err)
    assert len(lines) == 1, out.err
    ann = osp.join(shapes_coco, 'annotations', 'instances_train.json')
    assert lines[0].startswith(
        f'error: The train dataset of {config} has 80 classes (')
    assert f'do not match the categories of {ann} (3: ' in lines[0]
    assert lines[0].endswith(
        "train_dataloader.dataset.metainfo.classes = ('circle', 'square', "
        "'triangle').")
    assert DET_RECIPE_NAME in lines[0]
    assert not (tmp_path / 'work').exists()


DET_RECIPE_NAME = 'configs/own_data/faster_rcnn_r50rla_fpn_1x_own_coco.py'


def test_one_metainfo_line_names_the_classes_and_sizes_the_heads(
        shapes_coco, tmp_path):
    from mmengine.config import Config

    from mmrla.cli import match_dataset_classes
    from mmrla.errors import UserError
    config = copy_recipe(
        'faster_rcnn_r50rla_fpn_1x_own_coco.py',
        tmp_path,
        data_root=shapes_coco,
        classes=('circle', 'triangle'))
    cfg = Config.fromfile(config)
    assert match_dataset_classes(cfg, config, ('train', 'val'))
    assert cfg.model.roi_head.bbox_head.num_classes == 2
    for split in ('train', 'val'):
        assert cfg[f'{split}_dataloader'].dataset.metainfo.classes == (
            'circle', 'triangle')
    # Left to the file: its three categories, in id order.
    cfg = Config.fromfile(
        copy_recipe(
            'faster_rcnn_r50rla_fpn_1x_own_coco.py',
            tmp_path,
            data_root=shapes_coco))
    assert match_dataset_classes(cfg, config, ('train', ))
    assert cfg.train_dataloader.dataset.metainfo.classes == CLASSES
    assert cfg.model.roi_head.bbox_head.num_classes == 3
    # A name the file does not have is a mistake, named in one line.
    cfg = Config.fromfile(
        copy_recipe(
            'faster_rcnn_r50rla_fpn_1x_own_coco.py',
            tmp_path,
            data_root=shapes_coco,
            classes=('circle', 'hexagon')))
    with pytest.raises(UserError) as error:
        match_dataset_classes(cfg, config, ('train', ))
    assert "('circle', 'hexagon')" in str(error.value)
    assert "'hexagon' is not among them" in str(error.value)


def test_imagenet_config_on_a_folder_without_meta_files_says_so(
        tmp_path, capsys):
    root = str(tmp_path / 'folder')
    write_image_folders(root, 3, 3, 3, size=32)
    config = osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py')
    assert _train_in_process(config, '--work-dir', tmp_path / 'work',
                             '--no-validate', '--cfg-options',
                             f'train_dataloader.dataset.data_root={root}') == 2
    line, = screen(capsys.readouterr().err)
    assert line.startswith(f'error: The train dataset of {config} has 1000 '
                           "classes ('tench, Tinca tinca', ")
    assert f'the class subfolders of {osp.join(root, "train")} (3: ' in line
    assert 'configs/own_data/r50rla_own_folder.py' in line


def test_imagenet_with_meta_files_is_left_to_them(tmp_path):
    from mmengine.config import Config

    from mmrla.cli import match_dataset_classes
    root = make_tiny_imagenet(str(tmp_path / 'imagenet'))
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py'))
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': root})
    assert not match_dataset_classes(cfg, 'c.py', ('train', ))
    assert cfg.model.head.num_classes == 1000


def test_read_coco_categories_reads_the_tail_or_the_whole_file(tmp_path):
    from mmrla.cli import read_coco_categories
    from mmrla.errors import UserError
    categories = [dict(id=3, name='b'), dict(id=1, name='a')]
    tail = tmp_path / 'tail.json'
    tail.write_text(
        json.dumps(dict(images=[], annotations=[], categories=categories)))
    # "categories" also appears earlier, as a value; and the list first.
    head = tmp_path / 'head.json'
    head.write_text(
        json.dumps(
            dict(
                categories=categories,
                info=dict(note='categories'),
                images=[dict(file_name='"categories": x')])))
    for path in (tail, head):
        assert [c['name']
                for c in read_coco_categories(str(path))] == ['a', 'b']
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": []')
    with pytest.raises(UserError, match='Cannot read the annotation file'):
        read_coco_categories(str(bad))
    none = tmp_path / 'none.json'
    none.write_text('{"images": []}')
    with pytest.raises(UserError, match='has no "categories" list'):
        read_coco_categories(str(none))
