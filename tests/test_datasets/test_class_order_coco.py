"""Labels follow the order of ``classes``: ClassOrderCocoDataset numbers
them so, ClassOrderCocoMetric maps them back to the file's category ids,
and a config with mmdet's own CocoDataset or CocoMetric in another order
than the file stops with one line."""
import json
import os.path as osp

import pytest
import torch
from mmdet.utils import register_all_modules
from mmengine.config import Config

from mmrla.cli import match_dataset_classes
from mmrla.datasets import ClassOrderCocoDataset
from mmrla.errors import UserError
from mmrla.evaluation import ClassOrderCocoMetric
from tests.fixtures.console import REPO
from tests.fixtures.own_photos import HOPPER_BOXES, PRESENT_BOX, write_own_coco

register_all_modules(init_default_scope=False)
RECIPE = osp.join(REPO, 'configs', 'own_data',
                  'faster_rcnn_r50rla_fpn_1x_own_coco.py')


@pytest.fixture(scope='module')
def own_coco(tmp_path_factory):
    return write_own_coco(tmp_path_factory.mktemp('own_coco'), broken=False)


def _dataset(own_coco, split, classes, cls=ClassOrderCocoDataset):
    return cls(
        data_root=own_coco.root,
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'),
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=[])


def _labelled(dataset) -> dict:
    """{(file name, class name): [boxes]} as the dataset labels them."""
    found = {}
    classes = dataset.metainfo['classes']
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        for instance in info['instances']:
            key = (osp.basename(info['img_path']),
                   classes[instance['bbox_label']])
            found.setdefault(key, []).append(instance['bbox'])
    return found


def _xyxy(box):
    x, y, w, h = box
    return [x, y, x + w, y + h]


def test_labels_follow_a_reordered_subset_of_classes(own_coco):
    # The file lists gift box (7) before person (3): the reverse order.
    dataset = _dataset(own_coco, 'train', ('person', 'gift box'))
    labelled = _labelled(dataset)
    assert labelled[('hopper.jpg',
                     'person')] == [_xyxy(HOPPER_BOXES['person'])]
    assert labelled[('present.png', 'gift box')] == [_xyxy(PRESENT_BOX)]
    assert dataset.metainfo['classes'] == ('person', 'gift box')
    assert dataset.metainfo['category_ids'] == (3, 7)
    # Names with a space and a non-ASCII letter, in any order.
    dataset = _dataset(own_coco, 'train', ('médaille militaire', 'face'))
    assert _labelled(dataset)[('hopper.jpg', 'médaille militaire')] == [
        _xyxy(HOPPER_BOXES['médaille militaire'])
    ]
    assert dataset.metainfo['category_ids'] == (11, 15)


def test_no_classes_means_every_category_in_id_order(own_coco):
    dataset = _dataset(own_coco, 'val', None)
    assert dataset.metainfo['classes'] == ('person', 'gift box',
                                           'médaille militaire', 'face')
    assert dataset.metainfo['category_ids'] == (3, 7, 11, 15)


@pytest.mark.parametrize('classes', [('person', 'gift box'),
                                     ('gift box', 'person')])
def test_metric_maps_labels_back_to_the_file_ids(own_coco, classes):
    dataset = _dataset(own_coco, 'val', classes)
    metric = ClassOrderCocoMetric(
        ann_file=own_coco.ann_file('val'), metric='bbox', classwise=True)
    metric.dataset_meta = dataset.metainfo
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        boxes = [x['bbox'] for x in info['instances']]
        samples.append(
            dict(
                img_id=info['img_id'],
                ori_shape=(info['height'], info['width']),
                pred_instances=dict(
                    bboxes=torch.tensor(boxes, dtype=torch.float32),
                    scores=torch.ones(len(boxes)),
                    labels=torch.tensor(
                        [x['bbox_label'] for x in info['instances']]))))
    metric.process({}, samples)
    kept = list(metric.results)  # evaluate() empties them
    results = metric.evaluate(len(samples))
    # The ground truth predicted exactly, each box under its own name.
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
    assert results['coco/person_precision'] == pytest.approx(1.0)
    assert results['coco/gift box_precision'] == pytest.approx(1.0)
    # Result files name the categories by the file's ids.
    files = metric.results2json([pred for _, pred in kept],
                                f'{own_coco.root}results')
    with open(files['bbox']) as f:
        written = json.load(f)
    ids = {r['image_id']: r['category_id'] for r in written}
    assert sorted(ids.values()) == [3, 7]


def _config(own_coco, classes, **types) -> Config:
    cfg = Config.fromfile(RECIPE)
    options = {}
    for split in ('train', 'val'):
        key = f'{split}_dataloader.dataset'
        options[f'{key}.data_root'] = own_coco.root
        options[f'{key}.metainfo.classes'] = classes
        if 'dataset' in types:
            options[f'{key}.type'] = types['dataset']
    options['val_evaluator.ann_file'] = own_coco.ann_file('val')
    if 'metric' in types:
        options['val_evaluator.type'] = types['metric']
    cfg.merge_from_dict(options)
    return cfg


def test_mmdet_coco_dataset_in_another_order_stops_in_one_line(own_coco):
    cfg = _config(own_coco, ('person', 'gift box'), dataset='CocoDataset')
    with pytest.raises(UserError) as error:
        match_dataset_classes(cfg, 'my.py', ('train', 'val'))
    message = str(error.value)
    assert '\n' not in message
    assert message.startswith(
        "The train dataset of my.py lists its classes 'person', 'gift box' "
        'in another order than the categories of ')
    assert "'gift box' would be labelled 'person'" in message
    assert "type='ClassOrderCocoDataset'" in message
    assert message.endswith("train_dataloader.dataset.metainfo.classes = "
                            "('gift box', 'person').")
    # Left to the file, the classes come in id order (person=3 first),
    # which mmdet's CocoDataset would number in the file's order.
    cfg = _config(own_coco, None, dataset='CocoDataset')
    with pytest.raises(UserError, match='another order'):
        match_dataset_classes(cfg, 'my.py', ('train', ))
    # In the file's order, mmdet's own types are right.
    cfg = _config(
        own_coco, ('gift box', 'person'),
        dataset='CocoDataset',
        metric='CocoMetric')
    match_dataset_classes(cfg, 'my.py', ('train', 'val'))


def test_mmdet_coco_metric_in_another_order_stops_in_one_line(own_coco):
    cfg = _config(own_coco, ('person', 'gift box'), metric='CocoMetric')
    with pytest.raises(UserError) as error:
        match_dataset_classes(cfg, 'my.py', ('train', 'val'))
    assert str(error.value).startswith(
        'The val evaluator of my.py (CocoMetric) maps the labels to the '
        'categories of ')
    # The recipe's own types take any order.
    cfg = _config(own_coco, ('person', 'gift box'))
    assert match_dataset_classes(cfg, 'my.py', ('train', 'val'))
    assert cfg.model.roi_head.bbox_head.num_classes == 2
