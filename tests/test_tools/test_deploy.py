"""tools/deployment/deploy.py: whole detectors and classifiers through
mmdeploy to ONNX Runtime, compared with PyTorch; and configs/deploy/.

The detectors are compared on a model that has learned something: the demo
Mask R-CNN, a quarter as wide, trained for a few dozen iterations on the
synthetic shapes at 64 px (random weights score every box about alike, so
which boxes survive NMS would mean nothing).
"""
import glob
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmrla.apis.deploy import deploy_config_path, model_task
from mmrla.datasets.synthetic import generate_shapes
from tests.fixtures.console import run_tool, screen
from tests.fixtures.det_configs import (DEMO_CONFIG, NARROW_DEMO_MODEL,
                                        config_path)
from tools.deployment.deploy import (compare_classes, compare_detections, main,
                                     match_detections, parse_args)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEPLOY_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'deploy', '*.py')))
TOOL = 'tools/deployment/deploy.py'


def test_deploy_configs_are_mmdeploy_configs():
    from mmdeploy.utils import (get_backend, get_codebase, get_task_type,
                                is_dynamic_shape)
    assert len(DEPLOY_CONFIGS) == 6
    for path in DEPLOY_CONFIGS:
        cfg = Config.fromfile(path)
        name = osp.basename(path)
        assert get_backend(cfg).value == name.split('_')[1].split('-')[0]
        assert get_task_type(cfg).value == {
            'detection': 'ObjectDetection',
            'instance-seg': 'ObjectDetection',
            'classification': 'Classification'
        }[name.split('_')[0]]
        assert get_codebase(cfg).value == (
            'mmpretrain' if name.startswith('classification') else 'mmdet')
        assert is_dynamic_shape(cfg)
        assert cfg.onnx_config.optimize is False
        if 'tensorrt' in name:
            assert cfg.backend_config.common_config.fp16_mode
    seg = Config.fromfile(deploy_config_path('instance-seg'))
    assert seg.onnx_config.output_names == ['dets', 'labels', 'masks']
    assert set(
        seg.onnx_config.dynamic_axes) == {'input', 'dets', 'labels', 'masks'}


def test_the_task_picks_the_deploy_config():
    cases = {
        config_path('mask_rcnn', 'r50rla'):
        'instance-seg',
        config_path('faster_rcnn', 'r50rla'):
        'detection',
        config_path('retinanet', 'r101rlaeca'):
        'detection',
        osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py'):
        'classification',
        osp.join(REPO, 'configs', 'mobilenetv2rla_2xb48_in1k.py'):
        'classification',
    }
    for config, task in cases.items():
        assert model_task(Config.fromfile(config)) == task
        assert osp.isfile(deploy_config_path(task))


def _instances(boxes, scores, labels) -> InstanceData:
    return InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32),
        scores=torch.tensor(scores),
        labels=torch.tensor(labels))


def test_detections_match_by_label_and_iou():
    args = parse_args(['c.py', 'c.pth', 'i.png'])
    ref = _instances([[0, 0, 10, 10], [20, 20, 40, 40], [0, 0, 50, 50]],
                     [0.9, 0.8, 0.1], [0, 1, 2])
    # Another order, a box off by 0.1 px, a score off by 1e-4.
    out = _instances([[20, 20, 40.1, 40], [0, 0, 10, 10]], [0.8001, 0.9],
                     [1, 0])
    result = compare_detections(ref, out, args)
    assert result['compared'] == (2, 2) and result['matched'] == 2
    assert result['unmatched'] == 0 and result['ok']
    assert result['box_diff'] == pytest.approx(0.1, abs=1e-5)
    assert result['score_diff'] == pytest.approx(1e-4, abs=1e-6)
    assert result['min_iou'] == pytest.approx(400 / 402, abs=1e-5)

    # A label that differs: PyTorch's box of label 1 has no partner, and
    # the backend's box of label 2 pairs with PyTorch's other label-2 box,
    # which is far off.
    wrong = _instances([[20, 20, 40, 40], [0, 0, 10, 10]], [0.8, 0.9], [2, 0])
    result = compare_detections(ref, wrong, args)
    assert result['unmatched'] == 1 and not result['ok']
    assert result['min_iou'] == pytest.approx(400 / 2500)
    # A detection below the threshold on one side still matches one above
    # it on the other (scores near the threshold are no mismatch) ...
    low = _instances([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.295], [0, 1])
    assert match_detections(ref, low, 0.3)['unmatched'] == 0
    # ... but then their score difference counts.
    result = compare_detections(ref, low, args)
    assert result['score_diff'] == pytest.approx(0.505) and not result['ok']
    # A box moved too far.
    moved = _instances([[20, 21, 40, 41], [0, 0, 10, 10]], [0.8, 0.9], [1, 0])
    result = compare_detections(ref, moved, args)
    assert result['matched'] == 2 and result['min_iou'] < 0.99
    assert not result['ok']


def test_masks_are_compared_by_iou():
    args = parse_args(['c.py', 'c.pth', 'i.png'])
    masks = torch.zeros(1, 40, 40, dtype=torch.bool)
    masks[0, :20, :20] = True
    ref = _instances([[0, 0, 10, 10]], [0.9], [0])
    out = _instances([[0, 0, 10, 10]], [0.9], [0])
    ref.masks, out.masks = masks, masks.clone()
    out.masks[0, 19, :] = False  # 20 of 400 pixels
    result = compare_detections(ref, out, args)
    assert result['min_mask_iou'] == pytest.approx(0.95) and result['ok']
    out.masks[0, 18, :] = False
    assert not compare_detections(ref, out, args)['ok']


def _sample(scores):
    from mmpretrain.structures import DataSample
    return DataSample().set_pred_score(torch.tensor(scores))


def test_top_k_classes_allow_swaps_of_near_ties_only():
    args = parse_args(['c.py', 'c.pth', 'i.png', '--topk', '3'])
    ref = _sample([0.5, 0.2, 0.2001, 0.05, 0.0499])
    same = compare_classes(ref, _sample([0.5, 0.2001, 0.2, 0.05, 0.0498]),
                           args)
    assert same['ref_top'] == [0, 2, 1] and same['out_top'] == [0, 1, 2]
    assert same['ok']
    swapped = compare_classes(ref, _sample([0.2, 0.5, 0.2001, 0.05, 0.0499]),
                              args)
    assert not swapped['ok']


class TestBadInput:

    def test_missing_mmdeploy_names_the_install_command(
            self, monkeypatch, capsys):
        monkeypatch.setitem(sys.modules, 'mmdeploy', None)
        assert main(['c.py', 'c.pth', 'i.png']) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1
        assert err.startswith('error: mmdeploy is not installed')
        assert err.rstrip().endswith('pip install -r requirements/deploy.txt')

    def test_one_line_for_each_mistake(self, tmp_path, capsys):
        import numpy as np
        from PIL import Image
        config = osp.join(REPO, 'configs', 'r50rla_4xb64_in1k.py')
        image = tmp_path / 'image.png'
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
        tensorrt = deploy_config_path('classification', 'tensorrt')
        detection = deploy_config_path('detection')
        cases = [
            ([config, 'missing.pth', image], 'error: Checkpoint missing.pth '
             'does not exist.'),
            ([config, 'c.pth', tmp_path / 'none.png'],
             f'error: image {tmp_path / "none.png"} does not exist.'),
            ([config, 'c.pth', image, '--deploy-cfg',
              tensorrt], f'error: {tensorrt} is a tensorrt deploy config, not '
             'onnxruntime'),
            ([config, 'c.pth', image, '--deploy-cfg',
              config], f'error: {config} is not an mmdeploy deploy config'),
            ([config, 'c.pth', image, '--deploy-cfg', detection],
             f'error: {detection} deploys mmdet models, and the model config '
             'is an mmpretrain classification model'),
            (['configs/r50rla.py', 'c.pth',
              image], 'error: Config file configs/r50rla.py does not exist.'),
        ]
        for args, start in cases:
            assert main([*map(str, args), '--work-dir',
                         str(tmp_path / 'w')]) == 2
            err = capsys.readouterr().err
            assert err.count('\n') == 1 and err.startswith(start), err
        assert not (tmp_path / 'w').exists()

    def test_the_tool_runs_from_the_command_line(self, tmp_path):
        result = run_tool(TOOL, 'configs/r50rla.py', 'c.pth', 'i.png')
        assert result.returncode == 2
        assert screen(result.stdout) == [
            'error: Config file configs/r50rla.py does not exist. Did you '
            'mean r50rla_4xb64_in1k.py?'
        ]


# Classifiers: the real configs at 64x64 (the test pipeline resizes to 73
# and crops 64), weights of the training initialization with the logits
# scaled to about 1 so that class scores differ (softmax of random logits
# ties).
SMALL_CLS = [
    '--cfg-options', 'test_dataloader.dataset.pipeline.1.scale=73',
    'test_dataloader.dataset.pipeline.2.crop_size=64'
]


def _classifier_checkpoint(config: str, path) -> str:
    from mmrla.cli import build_model_without_weights
    torch.manual_seed(0)
    model = build_model_without_weights(
        Config.fromfile(config), init_weights=True).eval()
    fc = model.head.fc
    with torch.no_grad():
        fc.bias.zero_()
        fc.weight /= model(torch.rand(1, 3, 64, 64), mode='tensor').std()
        fc.weight *= 3
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


@pytest.fixture(scope='module')
def photo():
    """A photograph matplotlib ships."""
    import matplotlib
    return osp.join(matplotlib.get_data_path(), 'sample_data',
                    'grace_hopper.jpg')


@pytest.mark.slow
@pytest.mark.parametrize(
    'name', ['r50rla_4xb64_in1k.py', 'mobilenetv2rla_2xb48_in1k.py'])
def test_classifier_deploys_and_matches(name, photo, tmp_path, capsys):
    config = osp.join(REPO, 'configs', name)
    checkpoint = _classifier_checkpoint(config, tmp_path / 'model.pth')
    work_dir = tmp_path / 'deploy'
    assert main(
        [config, checkpoint, photo, '--work-dir',
         str(work_dir), *SMALL_CLS]) == 0
    for file in ('end2end.onnx', 'deploy.json', 'pipeline.json',
                 'detail.json'):
        assert (work_dir / file).is_file(), file
    out = capsys.readouterr().out
    assert 'with the backbone after switch_to_deploy()' in out
    line, = [ln for ln in out.splitlines() if 'top-5 classes PyTorch' in ln]
    assert line.endswith(': ok')
    top = line.split('PyTorch ')[1].split(', onnxruntime ')
    assert top[0] == top[1].split(';')[0]  # the same top-5 classes
    # The class scores are spread out, not tied.
    onnx = __import__('onnxruntime').InferenceSession(
        str(work_dir / 'end2end.onnx'), providers=['CPUExecutionProvider'])
    scores = onnx.run(None, {'input': torch.randn(2, 3, 64, 64).numpy()})[0]
    assert scores.shape == (2, 1000) and scores.max() > 0.01


def _shapes_data(shapes: str) -> str:
    """Config lines that train and test on ``shapes`` at 64 px, with the
    demo's recipe (AdamW) at a constant lr, for 24 epochs."""
    test_pipeline = """[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path',
         'ori_shape', 'img_shape', 'scale_factor'))]"""
    return f"""
metainfo = dict(classes=('circle', 'square', 'triangle'))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root={shapes!r},
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='PackDetInputs')
        ]))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(
        data_root={shapes!r},
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline={test_pipeline}))
val_dataloader = test_dataloader
val_evaluator = dict(ann_file={shapes + 'annotations/instances_val.json'!r})
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=24, val_interval=100)
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='AdamW', lr=4e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=24))
randomness = dict(seed=0)
"""


# The demo Mask R-CNN, a quarter as wide.
MASK_RCNN = f"""_base_ = {DEMO_CONFIG!r}
{NARROW_DEMO_MODEL}"""
# Our RetinaNet config with an RLA-ResNet-18 as narrow as the demo's.
RETINANET = f"""_base_ = {config_path('retinanet', 'r50rla')!r}
model = dict(
    backbone=dict(depth=18, stem_channels=16, base_channels=16,
                  rla_channel=8, frozen_stages=-1, norm_eval=False,
                  init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=16),
    bbox_head=dict(num_classes=3, in_channels=16, feat_channels=16,
                   stacked_convs=2,
                   anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(nms_pre=200, max_per_img=30))
"""


def _train(tmp_path, shapes: str, model: str, name: str):
    """Train ``model`` (config lines) on ``shapes``; its config and last
    checkpoint."""
    from tools.train import main as train
    config = tmp_path / f'{name}.py'
    config.write_text(model + _shapes_data(shapes))
    work_dir = tmp_path / name
    assert train([str(config), '--work-dir',
                  str(work_dir), '--no-validate']) == 0
    return str(config), str(work_dir / 'epoch_24.pth')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory) -> str:
    """The synthetic shapes at 64 px: 16 training and 4 validation
    images."""
    root = str(tmp_path_factory.mktemp('shapes')) + '/'
    generate_shapes(root, num_train=16, num_val=4, size=64, seed=0)
    return root


@pytest.fixture(scope='module')
def trained_mask_rcnn(shapes, tmp_path_factory):
    """The narrow demo Mask R-CNN trained for 96 iterations (about a
    minute on 2 cores): its best boxes score 0.5-0.7."""
    return _train(
        tmp_path_factory.mktemp('mask_rcnn'), shapes, MASK_RCNN, 'mask_rcnn')


def _detection_lines(out: str):
    return [ln for ln in out.splitlines() if 'detections with score' in ln]


def _check_detections(out: str, images: int):
    lines = _detection_lines(out)
    assert len(lines) == images, out
    assert all(ln.endswith(': ok') for ln in lines), out
    # The model found shapes: detections were compared, all of them matched.
    compared = [int(ln.split('PyTorch ')[1].split(',')[0]) for ln in lines]
    assert sum(compared) >= images, out
    assert all(' unmatched 0;' in ln for ln in lines), out


def _deploy(config, checkpoint, shapes, work_dir, *options) -> list:
    """deploy.py on the first validation image, then all of them; the
    images."""
    images = sorted(glob.glob(osp.join(shapes, 'val', '*.png')))
    assert len(images) == 4
    assert main([
        config, checkpoint, images[0], '--test-img', shapes + 'val',
        '--work-dir',
        str(work_dir), *options
    ]) == 0
    for file in ('end2end.onnx', 'deploy.json', 'pipeline.json',
                 'detail.json'):
        assert (work_dir / file).is_file(), file
    return images


@pytest.mark.slow
def test_demo_mask_rcnn_deploys_and_matches(trained_mask_rcnn, shapes,
                                            tmp_path, capsys):
    images = _deploy(*trained_mask_rcnn, shapes, tmp_path / 'deploy')
    out = capsys.readouterr().out
    assert 'instance-seg_onnxruntime_dynamic.py' in out
    _check_detections(out, len(images))
    assert all('lowest mask IoU' in ln for ln in _detection_lines(out))


@pytest.mark.slow
def test_faster_rcnn_deploys_and_matches(trained_mask_rcnn, shapes, tmp_path,
                                         capsys):
    """The trained demo model without its mask branch: a Faster R-CNN."""
    config, checkpoint = trained_mask_rcnn
    faster = tmp_path / 'faster_rcnn.py'
    faster.write_text(f"""_base_ = {config!r}
model = dict(
    type='FasterRCNN',
    roi_head=dict(mask_roi_extractor=None, mask_head=None))
""")
    from mmrla.engine.safe_load import load_checkpoint_file
    state = load_checkpoint_file(checkpoint, map_location='cpu')
    state = {
        k: v
        for k, v in state['state_dict'].items()
        if not k.startswith('roi_head.mask_')
    }
    torch.save(dict(state_dict=state), tmp_path / 'faster.pth')
    images = _deploy(
        str(faster), str(tmp_path / 'faster.pth'), shapes, tmp_path / 'deploy')
    out = capsys.readouterr().out
    assert '/detection_onnxruntime_dynamic.py' in out
    _check_detections(out, len(images))
    assert not any('mask' in ln for ln in _detection_lines(out))


@pytest.mark.slow
def test_retinanet_deploys_and_matches(shapes, tmp_path, capsys):
    config, checkpoint = _train(tmp_path, shapes, RETINANET, 'retinanet')
    # Focal loss scores lower: after 96 iterations its best boxes score
    # 0.25-0.4, the next ones spread below.
    images = _deploy(config, checkpoint, shapes, tmp_path / 'deploy',
                     '--score-thr', '0.15')
    out = capsys.readouterr().out
    assert '/detection_onnxruntime_dynamic.py' in out
    _check_detections(out, len(images))
