"""Training forward/backward and prediction of the RLA detectors (CPU).

Each detector family is built from its real config (R50 and R101), fed a
batch of the tiny synthetic COCO data through the config's own pipeline and
data preprocessor, and checked for finite losses, a gradient on every
trainable parameter (so DDP needs no ``find_unused_parameters``) and
predictions in the original image frame.
"""
import math

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger

from tests.fixtures.det_configs import load_small_cfg
from tests.fixtures.sizes import slow_if_deep
from tests.fixtures.tiny_coco import tiny_coco_fixture  # noqa: F401

register_all_modules(init_default_scope=False)

LOSSES = {
    'faster_rcnn': {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'},
    'mask_rcnn':
    {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'},
    'retinanet': {'loss_cls', 'loss_bbox'},
}


def _total(value):
    return sum(value) if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize('family', ['faster_rcnn', 'mask_rcnn', 'retinanet'])
@pytest.mark.parametrize('backbone', slow_if_deep(['r50rla', 'r101rla']))
def test_train_forward_and_predict(family, backbone, tiny_coco):
    torch.manual_seed(0)
    cfg = load_small_cfg(family, backbone, tiny_coco)
    model = MODELS.build(cfg.model)
    # init_weights logs one line per parameter; keep the test output short.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    # A landscape and a portrait image: the preprocessor pads them together.
    batch = pseudo_collate([dataset[0], dataset[1]])

    model.train()
    data = model.data_preprocessor(batch, True)
    assert data['inputs'].shape == (2, 3, 64, 64)
    losses = model(**data, mode='loss')
    assert LOSSES[family] <= set(losses)
    loss = sum(_total(v) for k, v in losses.items() if 'loss' in k)
    assert math.isfinite(loss.item()) and loss.item() > 0
    loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
    no_grad = [n for n, p in trainable if p.grad is None]
    assert not no_grad, f'parameters without gradient: {no_grad}'
    assert all(torch.isfinite(p.grad).all() for _, p in trainable)
    # frozen_stages=1 keeps the stem and stage 1 out of training.
    assert model.backbone.layer1[0].conv1.weight.grad is None
    assert model.backbone.layer2[0].conv1.weight.grad is not None

    model.eval()
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    with torch.no_grad():
        results = model.test_step(pseudo_collate([test_set[0], test_set[1]]))
    assert len(results) == 2
    for result, info in zip(results, tiny_coco.images[:2]):
        pred = result.pred_instances
        n = len(pred)
        assert 0 < n <= 20
        assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n, )
        assert pred.labels.min() >= 0 and pred.labels.max() < 80
        # Boxes are rescaled to the original (128x96 or 96x128) image.
        assert result.ori_shape == (info['height'], info['width'])
        assert pred.bboxes[:, 2].max() <= info['width']
        assert pred.bboxes[:, 3].max() <= info['height']
        if family == 'mask_rcnn':
            assert pred.masks.shape == (n, info['height'], info['width'])
            assert pred.masks.dtype == torch.bool
        else:
            assert 'masks' not in pred
