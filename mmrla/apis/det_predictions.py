"""Detections a user can map back to the data: class names, the annotation
file's category ids, and COCO's results format.

mmdet's ``DetInferencer`` saves each image's predictions with label
indices (``labels: [2]``), which mean nothing without the training config.
A model trained on COCO-format data by :class:`~mmrla.datasets.
ClassOrderCocoDataset` stores the category id of each label in its
``dataset_meta['category_ids']``; these functions add the names and ids.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

__all__ = ['coco_results', 'image_ids_of', 'named_prediction']


def named_prediction(prediction: dict, classes: Optional[Sequence[str]],
                     category_ids: Optional[Sequence[int]]) -> dict:
    """``prediction`` (a ``DetInferencer`` prediction dict: ``labels``,
    ``scores``, ``bboxes``, maybe ``masks``) with ``label_names`` and, when
    known, ``category_ids`` of the annotation file.

    Example:
        >>> named_prediction(dict(labels=[1], scores=[0.9],
        ...                       bboxes=[[0, 0, 4, 2]]), ('cat', 'dog'),
        ...                  (3, 11))['category_ids']
        [11]
    """
    named = dict(prediction)
    labels = list(prediction.get('labels', []))
    if classes:
        named['label_names'] = [str(classes[label]) for label in labels]
    if category_ids:
        named['category_ids'] = [int(category_ids[label]) for label in labels]
    return named


def coco_results(prediction: dict,
                 image: str,
                 image_id: Optional[int],
                 category_ids: Optional[Sequence[int]],
                 classes: Optional[Sequence[str]] = None) -> List[dict]:
    """One image's detections in COCO's results format (``image_id``,
    ``category_id``, ``bbox`` as ``[x, y, width, height]``, ``score``, and
    ``segmentation`` with masks), as ``pycocotools``' ``loadRes`` reads.

    Each entry also names its image (``file_name``) and class
    (``category_name``); without a known id, ``category_id`` is the label.

    Example:
        >>> coco_results(dict(labels=[0], scores=[0.5],
        ...                   bboxes=[[10, 20, 30, 60]]), 'a.jpg', 4, (7, ),
        ...              ('person', ))[0]['bbox']
        [10.0, 20.0, 20.0, 40.0]
    """
    results = []
    masks = prediction.get('masks') or [None] * len(prediction['labels'])
    for label, score, box, mask in zip(prediction['labels'],
                                       prediction['scores'],
                                       prediction['bboxes'], masks):
        x0, y0, x1, y1 = (float(v) for v in box)
        entry = dict(
            file_name=osp.basename(image),
            category_id=int(category_ids[label] if category_ids else label),
            bbox=[x0, y0, x1 - x0, y1 - y0],
            score=float(score))
        if image_id is not None:
            entry = dict(image_id=int(image_id), **entry)
        if classes:
            entry['category_name'] = str(classes[label])
        if mask is not None:
            entry['segmentation'] = mask
        results.append(entry)
    return results


def image_ids_of(ann_file: Optional[str]) -> Dict[str, int]:
    """``{file name: image id}`` of a local COCO-format annotation file
    (names and base names); {} without one."""
    if not ann_file or not osp.isfile(ann_file):
        return {}
    with open(ann_file) as f:
        images = json.load(f).get('images') or []
    ids = {}
    for image in images:
        ids.setdefault(osp.basename(image['file_name']), image['id'])
        ids[image['file_name']] = image['id']
    return ids
