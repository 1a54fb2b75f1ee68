"""COCO-format detection data whose labels follow the order of ``classes``.

mmdet's ``CocoDataset`` numbers the categories it keeps in the order of the
annotation file, whatever the order of ``metainfo.classes``: with
``classes = ('flower', 'person')`` for a file listing person (id 3) before
flower (id 7), the boxes of persons get label 0, which every later step
(heads, metric table, drawings, the checkpoint's ``dataset_meta``) calls
"flower". :class:`ClassOrderCocoDataset` numbers them in the order of
``classes`` instead, and takes all of the file's categories, by id, when
``classes`` is None; ``mmrla.evaluation.ClassOrderCocoMetric`` maps the
labels back to the same category ids.
"""
from typing import List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO

from mmrla.registry import DATASETS

__all__ = ['ClassOrderCocoDataset', 'ordered_cat_ids']


def ordered_cat_ids(coco: COCO, classes: Optional[Sequence[str]]) -> List[int]:
    """The ids of the categories named ``classes``, in the order of
    ``classes``; all categories, by id, when ``classes`` is None.

    Args:
        coco (COCO): An annotation file loaded by mmdet's COCO wrapper.
        classes (Sequence[str], optional): Category names.

    Example:
        >>> import contextlib, io, json, tempfile
        >>> quiet = contextlib.redirect_stdout(io.StringIO())  # COCO's log
        >>> with tempfile.NamedTemporaryFile('w', suffix='.json') as f, quiet:
        ...     json.dump(dict(images=[], annotations=[], categories=[
        ...         dict(id=3, name='person'), dict(id=7, name='flower')]), f)
        ...     f.flush()
        ...     coco = COCO(f.name)
        >>> ordered_cat_ids(coco, ('flower', 'person'))
        [7, 3]
    """
    if classes is None:
        return sorted(coco.cats)
    position = {name: i for i, name in enumerate(classes)}
    # get_cat_ids keeps the file's order; a stable sort keeps the file's
    # order among categories of one name.
    ids = COCO.get_cat_ids(coco, cat_names=list(classes))
    return sorted(ids, key=lambda i: position[coco.cats[i]['name']])


class _ClassOrderCOCO(COCO):
    """mmdet's COCO wrapper whose ``get_cat_ids(cat_names=...)`` answers in
    the order of the names (``CocoDataset.load_data_list`` numbers the
    labels in the order it answers)."""

    def get_cat_ids(self, cat_names=[], sup_names=[], cat_ids=[]):
        if cat_names is None or (cat_names and not sup_names and not cat_ids):
            return ordered_cat_ids(self, cat_names)
        return super().get_cat_ids(cat_names, sup_names, cat_ids)


@DATASETS.register_module()
class ClassOrderCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` with label ``i`` for ``classes[i]``.

    With ``metainfo=dict(classes=None)`` it takes every category of the
    annotation file, in id order. The category id of each label is kept in
    ``metainfo['category_ids']`` (and so in a checkpoint's
    ``dataset_meta``), for predictions in the file's ids.

    Args:
        **kwargs: As mmdet's ``CocoDataset``.

    Example:
        >>> # configs/own_data/faster_rcnn_r50rla_fpn_1x_own_coco.py
        >>> cfg = dict(type='ClassOrderCocoDataset',
        ...            ann_file='annotations/instances_train.json',
        ...            metainfo=dict(classes=('flower', 'person')))
    """
    COCOAPI = _ClassOrderCOCO
    # Read by the tools' class check (mmrla.cli.own_data).
    labels_follow_classes = True

    def load_data_list(self) -> List[dict]:
        if self._metainfo.get('classes') is None:
            # Every category, in id order (COCO's own reader parses the
            # file again below; this runs only without a classes line).
            from mmengine.fileio import load
            categories = load(
                self.ann_file, backend_args=self.backend_args)['categories']
            self._metainfo['classes'] = tuple(
                c['name'] for c in sorted(categories, key=lambda c: c['id']))
        data_list = super().load_data_list()
        self._metainfo['category_ids'] = tuple(self.cat_ids)
        return data_list
