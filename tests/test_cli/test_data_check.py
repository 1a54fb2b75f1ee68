"""The data check that tools/train.py, tools/test.py and
tools/misc/check_data.py run before the model is built, on real photographs
with the oddities of real data; and ``--cfg-options data_root=``."""
import os.path as osp

import pytest
from mmengine.config import Config
from PIL import Image

from mmrla.cli import load_config, match_dataset_classes
from mmrla.cli.data_check import check_data, check_mask_pipeline, image_problem
from mmrla.errors import UserError
from tests.fixtures.console import REPO, screen
from tests.fixtures.own_photos import (save_exif_rotated, save_truncated,
                                       write_own_coco, write_own_folder)

OWN = osp.join(REPO, 'configs', 'own_data')
DET = osp.join(OWN, 'faster_rcnn_r50rla_fpn_1x_own_coco.py')
MASK = osp.join(OWN, 'mask_rcnn_r50rla_fpn_1x_own_coco.py')
FOLDER = osp.join(OWN, 'r50rla_own_folder.py')


@pytest.fixture(scope='module')
def own_coco(tmp_path_factory):
    return write_own_coco(tmp_path_factory.mktemp('own_coco'))


def test_image_problem_reads_headers_and_ends(tmp_path):
    from tests.fixtures.own_photos import hopper
    image = hopper()
    whole = {
        'rgb.jpg': dict(),
        'gray.jpg': dict(mode='L'),
        'rgba.png': dict(mode='RGBA'),
        'photo.webp': dict()
    }
    for name, how in whole.items():
        path = str(tmp_path / name)
        image.convert(how.get('mode', 'RGB')).save(path)
        assert image_problem(path) is None, name
    save_exif_rotated(image, str(tmp_path / 'exif.jpg'))
    assert image_problem(str(tmp_path / 'exif.jpg')) is None
    for name in ('cut.jpg', 'cut.png', 'cut.webp'):
        path = str(tmp_path / name)
        image.save(path)
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])
        assert image_problem(path) == 'truncated', name
    (tmp_path / 'text.jpg').write_text('not an image')
    assert image_problem(str(tmp_path / 'text.jpg')) == 'unreadable'
    assert image_problem(str(tmp_path / 'none.jpg')) == 'missing'


def _det_cfg(root: str, path: str = DET) -> Config:
    cfg = load_config(path, {'data_root': root})
    match_dataset_classes(cfg, path, ('train', 'val'))
    return cfg


def test_broken_files_stop_in_one_line_with_count_and_paths(own_coco):
    cfg = _det_cfg(own_coco.root)
    lines = []
    with pytest.raises(UserError) as error:
        check_data(cfg, ('train', 'val'), log=lines.append)
    truncated, missing = own_coco.broken
    assert str(error.value) == (
        f'2 image files cannot be loaded (1 truncated, 1 missing): '
        f'{truncated} (truncated), {missing} (missing). Replace or remove '
        'them, or add --skip-broken to leave them out (each is logged).')
    # The summary came first, one line per dataset.
    assert len(lines) == 2
    assert lines[0].startswith(
        f'data check, train: 9 images in {own_coco.ann_file("train")}, '
        '2 broken; ')


def test_summary_counts_what_mmdet_drops(own_coco):
    cfg = _det_cfg(own_coco.root)
    lines = []
    reports = check_data(cfg, ('train', 'val'), True, log=lines.append)
    train, val = reports
    assert train.notes == [
        '1 image without annotations of the classes dropped (set '
        'train_dataloader.dataset.filter_cfg.filter_empty_gt=False to '
        'train on them as negatives)',
        '1 zero-size box (under 1 px or area 0) ignored',
        '1 box outside the image ignored',
        '1 box running past the image border kept',
    ]
    assert val.notes == [] and val.broken == []
    # Each skipped file is logged, and the dataset leaves them out.
    assert [line for line in lines if line.startswith('skipped')] == [
        f'skipped (train): {path} ({problem})'
        for path, problem in zip(own_coco.broken, ('truncated', 'missing'))
    ]
    dataset_cfg = cfg.train_dataloader.dataset
    assert dataset_cfg.type == 'ExcludeFiles'
    from mmdet.utils import register_all_modules
    from mmengine.registry import DATASETS, init_default_scope
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    dataset_cfg.dataset.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    files = sorted(
        osp.basename(dataset.get_data_info(i)['img_path'])
        for i in range(len(dataset)))
    # negative.jpg: mmdet's filter_empty_gt, as the summary says.
    assert files == [
        'hopper.jpg', 'hopper_boxes.jpg', 'hopper_exif.jpg', 'hopper_gray.jpg',
        'present.png', 'present.webp'
    ]
    assert dataset.metainfo['classes'] == ('person', 'gift box',
                                           'médaille militaire', 'face')


def test_keeping_images_without_annotations_is_said(own_coco):
    cfg = _det_cfg(own_coco.root)
    cfg.train_dataloader.dataset.filter_cfg.filter_empty_gt = False
    report = check_data(cfg, ('train', ), True, log=lambda line: None)[0]
    assert report.notes[0] == ('1 image without annotations of the classes '
                               'kept as negatives')


def test_folder_check_counts_skipped_extensions(tmp_path):
    files = write_own_folder(tmp_path / 'folder')
    cfg = load_config(FOLDER, {'data_root': files['root']})
    lines = []
    with pytest.raises(
            UserError,
            match=r'^1 image file cannot be loaded '
            r'\(1 truncated\): .*cut\.jpg \(truncated\)'):
        check_data(cfg, ('train', ), log=lines.append)
    # The recipe reads WebP: 8 files, the truncated one among them.
    assert lines == [
        f'data check, train: 8 images in '
        f'{osp.join(files["root"], "train")}, 1 broken'
    ]
    # mmpretrain's own extensions skip the WebP, which is said.
    cfg.train_dataloader.dataset.pop('extensions')
    report = check_data(cfg, ('train', ), True, log=lambda line: None)[0]
    assert report.images == 7
    assert report.notes == [
        f'1 image file of other extensions (.webp) not read, e.g. '
        f'{files["webp"]} (add them: train_dataloader.dataset.extensions='
        "('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', "
        "'.webp'))"
    ]


def test_missing_mask_setting_gets_one_line():
    cfg = Config.fromfile(MASK)
    check_mask_pipeline(cfg, MASK)
    cfg.train_dataloader.dataset.pipeline[1].with_mask = False
    with pytest.raises(UserError) as error:
        check_mask_pipeline(cfg, MASK)
    assert str(error.value) == (
        f'The model of {MASK} has a mask head, but the training data loads '
        'no masks: set train_dataloader.dataset.pipeline.1.with_mask=True '
        '(LoadAnnotations), as configs/own_data/'
        'mask_rcnn_r50rla_fpn_1x_own_coco.py does (docs/own_data.md).')
    # A Faster R-CNN config has no mask head to feed.
    check_mask_pipeline(Config.fromfile(DET), DET)


@pytest.mark.parametrize('recipe', [DET, MASK, FOLDER])
def test_data_root_option_moves_every_path(recipe, tmp_path):
    root = str(tmp_path / 'photos') + '/'
    cfg = load_config(recipe, {'data_root': root})
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == root
    if recipe != FOLDER:
        for split in ('val', 'test'):
            assert cfg[f'{split}_evaluator'].ann_file == \
                root + 'annotations/instances_val.json'
    # A dataset's own data_root given with it wins.
    cfg = load_config(recipe, {
        'data_root': root,
        'test_dataloader.dataset.data_root': '/elsewhere'
    })
    assert cfg.test_dataloader.dataset.data_root == '/elsewhere'
    assert cfg.train_dataloader.dataset.data_root == root


def test_data_root_option_without_effect_stops(tmp_path):
    config = tmp_path / 'fixed.py'
    config.write_text(
        "_base_ = '" + FOLDER + "'\n"
        "train_dataloader = dict(dataset=dict(data_root='/data/a'))\n"
        "val_dataloader = dict(dataset=dict(data_root='/data/a'))\n"
        "test_dataloader = val_dataloader\n")
    with pytest.raises(UserError) as error:
        load_config(str(config), {'data_root': '/data/b'})
    assert str(error.value) == (
        f'--cfg-options data_root=/data/b would change nothing: no path of '
        f'{config} reads its data_root. Set the paths themselves: '
        'train_dataloader.dataset.data_root, val_dataloader.dataset.'
        'data_root, test_dataloader.dataset.data_root.')


def test_check_data_command(own_coco, tmp_path, capsys):
    from tools.misc.check_data import main
    assert main([DET, '--cfg-options', f'data_root={own_coco.root}']) == 2
    out = capsys.readouterr()
    lines = screen(out.err)
    assert len(lines) == 1 and lines[0].startswith(
        'error: 2 image files cannot be loaded')
    assert out.out.splitlines()[0].startswith('data check, train: 9 images')
    clean = write_own_coco(tmp_path / 'clean', broken=False)
    assert main([DET, '--cfg-options', f'data_root={clean.root}']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('data check, train: 7 images')
    assert out[1] == (f'data check, val: 2 images in '
                      f'{clean.ann_file("val")}, all load')


def test_train_stops_on_a_broken_file_before_the_runner(
        own_coco, tmp_path, capsys):
    from tools.train import main
    assert main([
        DET, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', f'data_root={own_coco.root}',
        'model.backbone.init_cfg=None'
    ]) == 2
    lines = screen(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(
        'error: 2 image files cannot be loaded (1 truncated, 1 missing): ')
    assert not (tmp_path / 'work').exists()


def test_exif_rotated_photo_reads_upright(tmp_path):
    from tests.fixtures.own_photos import HOPPER_SIZE, hopper
    path = str(tmp_path / 'exif.jpg')
    save_exif_rotated(hopper(), path)
    with Image.open(path) as image:
        assert image.size == HOPPER_SIZE[::-1]  # stored on its side
    import mmcv
    assert mmcv.imread(path).shape[:2] == HOPPER_SIZE[::-1]
    save_truncated(hopper(), path)
    assert image_problem(path) == 'truncated'


def test_large_sets_get_a_progress_bar(own_coco, monkeypatch, capsys):
    from mmrla.cli import data_check
    cfg = _det_cfg(own_coco.root)
    monkeypatch.setattr(data_check, 'PROGRESS_FROM', 5)
    check_data(cfg, ('train', 'val'), True, log=lambda line: None)
    out = capsys.readouterr().out
    # The 9 training images get a bar; the 2 of validation do not.
    assert '9/9' in out and '2/2' not in out
