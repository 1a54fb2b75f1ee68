"""mmdet's DetInferencer on the RLA configs, and demo/det_demo.py."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.datasets import CocoDataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

from tests.fixtures.console import assert_line, run_tool, screen
from tests.fixtures.det_configs import SMALL_SCALE, config_path
from tests.fixtures.rlanet_checkpoints import save_authors_detector
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401

register_all_modules(init_default_scope=False)

# Small inference settings for the CPU (the configs resize to 1333x800).
SMALL_TEST = {
    'test_dataloader.dataset.pipeline.1.scale': SMALL_SCALE,
    'model.test_cfg.rpn.max_per_img': 50,
    'model.test_cfg.rcnn.max_per_img': 10,
}


@pytest.fixture(scope='module')
def confident_checkpoint(tmp_path_factory):
    """A Faster R-CNN checkpoint whose RoI head calls everything a person.

    Its weights are random except a large bias on class 0, so the untrained
    detector outputs high-scoring boxes, which the demo must draw.
    """
    cfg = Config.fromfile(config_path('faster_rcnn', 'r50rla'))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        model.roi_head.bbox_head.fc_cls.bias[0] = 10.0
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_12.pth'
    meta = dict(dataset_meta=dict(CocoDataset.METAINFO))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return str(path)


@pytest.mark.slow
def test_det_inferencer_loads_a_config_file(confident_checkpoint, tiny_coco,
                                            tmp_path):
    from mmdet.apis import DetInferencer

    # A user config inheriting ours: DetInferencer reads it from the path,
    # custom_imports and all.
    config = tmp_path / 'my_faster_rcnn.py'
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=SMALL_SCALE, keep_ratio=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor'))
    ]
    config.write_text(
        f"_base_ = {config_path('faster_rcnn', 'r50rla')!r}\n"
        f'test_dataloader = dict(dataset=dict(pipeline={pipeline!r}))\n')
    inferencer = DetInferencer(
        model=str(config),
        weights=confident_checkpoint,
        device='cpu',
        show_progress=False)
    assert type(inferencer.model.backbone).__name__ == 'RLAResNet'
    image = osp.join(tiny_coco.img_dir, tiny_coco.images[0]['file_name'])
    result = inferencer(image, return_datasamples=True)
    sample, = result['predictions']
    pred = sample.pred_instances
    assert len(pred) > 0
    assert (pred.labels == 0).all() and (pred.scores > 0.9).all()
    height, width = tiny_coco.images[0]['height'], tiny_coco.images[0]['width']
    assert sample.ori_shape == (height, width)
    assert (pred.bboxes[:, 0::2] <= width).all()
    assert (pred.bboxes[:, 1::2] <= height).all()


def test_det_inferencer_refuses_an_image_of_the_wrong_channel_count(
        confident_checkpoint):
    from mmdet.apis import DetInferencer

    from mmrla.models.data_preprocessors import ImageChannelError
    inferencer = DetInferencer(
        model=config_path('faster_rcnn', 'r50rla'),
        weights=confident_checkpoint,
        device='cpu',
        show_progress=False)
    rgba = np.random.default_rng(0).integers(
        0, 256, (48, 64, 4), dtype=np.uint8)
    # mmdet's own preprocessor would keep channels 2, 1, 0 and go on.
    with pytest.raises(ImageChannelError) as info:
        inferencer(rgba)
    assert_line(
        str(info.value), 'an image has 4 channels', 'the model takes 3:',
        'img[..., :3]')


def _demo(*args):
    import demo.det_demo as det_demo
    return det_demo.main([str(a) for a in args])


def _small_test_options():
    options = []
    for key, value in SMALL_TEST.items():
        if isinstance(value, tuple):
            value = '(' + ','.join(map(str, value)) + ')'
        options.append(f'{key}={value}')
    return ['--cfg-options', *options]


def test_demo_draws_detections_of_an_image_and_a_folder(
        confident_checkpoint, tiny_coco, tmp_path):
    config = config_path('faster_rcnn', 'r50rla')
    name = tiny_coco.images[0]['file_name']
    image = osp.join(tiny_coco.img_dir, name)
    out = tmp_path / 'one'
    # The model's name in the metafile stands for its config.
    assert _demo(image, 'faster-rcnn_rla-resnet50_fpn_1x_coco',
                 confident_checkpoint, '--out-dir', out,
                 *_small_test_options()) == 0
    original = cv2.imread(image)
    drawn = cv2.imread(str(out / 'vis' / name))
    assert drawn.shape == original.shape
    # Boxes (scores ~1 > 0.3) are drawn onto the image.
    assert np.abs(drawn.astype(int) - original).sum() > 0
    with open(out / 'preds' / (osp.splitext(name)[0] + '.json')) as f:
        preds = json.load(f)
    assert len(preds['bboxes']) == len(preds['scores']) > 0
    assert min(preds['scores']) > 0.9 and set(preds['labels']) == {0}
    # The names of the checkpoint's classes beside the labels.
    assert set(preds['label_names']) == {'person'}

    # A folder: one drawn image per image; a 1.0 threshold draws nothing.
    out = tmp_path / 'folder'
    assert _demo(tiny_coco.img_dir, config, confident_checkpoint, '--out-dir',
                 out, '--pred-score-thr', 1.0, '--no-save-pred',
                 *_small_test_options()) == 0
    names = sorted(i['file_name'] for i in tiny_coco.images)
    assert sorted(p.name for p in (out / 'vis').iterdir()) == names
    assert not (out / 'preds').exists()
    undrawn = cv2.imread(str(out / 'vis' / name))
    assert np.array_equal(undrawn, original)


def test_demo_explains_bad_arguments(confident_checkpoint, tiny_coco, tmp_path,
                                     capsys):
    config = config_path('faster_rcnn', 'r50rla')
    image = osp.join(tiny_coco.img_dir, tiny_coco.images[0]['file_name'])
    assert _demo(tmp_path / 'nope.jpg', config, confident_checkpoint) == 2
    assert 'nope.jpg does not exist' in capsys.readouterr().err
    (tmp_path / 'empty').mkdir()
    assert _demo(tmp_path / 'empty', config, confident_checkpoint) == 2
    assert 'holds no image' in capsys.readouterr().err
    assert _demo(image, config, tmp_path / 'missing.pth') == 2
    err = capsys.readouterr().err
    assert 'missing.pth does not exist' in err and 'tools/train.py' in err
    assert _demo(image, config, confident_checkpoint, '--pred-score-thr',
                 '2') == 2
    assert '--pred-score-thr must be in [0, 1]' in capsys.readouterr().err
    assert _demo(image, 'faster-rcnn_rla-resnet5', confident_checkpoint) == 2
    err = capsys.readouterr().err
    assert 'no model named "faster-rcnn_rla-resnet5"' in err
    assert 'faster-rcnn_rla-resnet50_fpn_1x_coco' in err
    assert _demo(image, tmp_path / 'missing.py', confident_checkpoint) == 2
    assert 'missing.py does not exist' in capsys.readouterr().err


def test_demo_refuses_unconverted_and_incomplete_checkpoints(
        confident_checkpoint, tiny_coco, tmp_path, capsys):
    config = config_path('faster_rcnn', 'r50rla')
    image = osp.join(tiny_coco.img_dir, tiny_coco.images[0]['file_name'])
    _, authors = save_authors_detector(str(tmp_path), 'faster_rcnn', 'r50rla')
    assert _demo(image, config, authors) == 2
    err = capsys.readouterr().err
    assert (f'rlanet_to_mmrla.py {authors} '
            'checkpoints/faster_rcnn_r50rla_fpn_1x_coco.pth') in err
    checkpoint = torch.load(confident_checkpoint, weights_only=True)
    del checkpoint['state_dict']['roi_head.bbox_head.fc_cls.weight']
    partial = tmp_path / 'partial.pth'
    torch.save(checkpoint, partial)
    assert _demo(image, config, partial, *_small_test_options()) == 2
    err = capsys.readouterr().err
    assert 'lacks 1 of the model' in err
    assert 'roi_head.bbox_head.fc_cls.weight' in err


@pytest.mark.slow
def test_demo_prints_its_results_and_no_warning(confident_checkpoint,
                                                tiny_coco, tmp_path):
    # A subprocess: mmengine's logger writes to the real terminal.
    image = osp.join(tiny_coco.img_dir, tiny_coco.images[0]['file_name'])
    out = tmp_path / 'out'
    proc = run_tool('demo/det_demo.py', image,
                    config_path('faster_rcnn', 'r50rla'), confident_checkpoint,
                    '--out-dir', out, *_small_test_options())
    assert proc.returncode == 0, proc.stdout[-3000:]
    # No "Failed to search registry with scope "mmdet" in the "function"
    # registry tree", no "Failed to add LocalVisBackend".
    assert screen(proc.stdout) == [
        f'Loads checkpoint by local backend from path: {confident_checkpoint}',
        f'drawn detections saved to {out / "vis"}',
        f'predictions saved to {out / "preds"} and '
        f'{out / "coco_results.json"}'
    ]
