"""mmdet's COCO metric for :class:`~mmrla.datasets.ClassOrderCocoDataset`.

mmdet's ``CocoMetric`` maps label ``i`` to the ``i``-th category of the
annotation file that ``classes`` names, in the file's order; the labels of
``ClassOrderCocoDataset`` follow the order of ``classes``. This metric maps
them as the dataset numbered them, so that the mAP, the per-class table and
the result files name the right categories.
"""
from mmdet.evaluation import CocoMetric
from mmengine.registry import METRICS

from mmrla.datasets.class_order_coco import ordered_cat_ids

__all__ = ['ClassOrderCocoMetric']


@METRICS.register_module()
class ClassOrderCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric`` with label ``i`` for ``classes[i]``.

    Args:
        **kwargs: As mmdet's ``CocoMetric``.

    Example:
        >>> cfg = dict(type='ClassOrderCocoMetric',
        ...            ann_file='data/own_coco/annotations/'
        ...            'instances_val.json', metric='bbox')
    """
    # Read by the tools' class check (mmrla.cli.own_data).
    labels_follow_classes = True

    def compute_metrics(self, results: list) -> dict:
        # Without ann_file, CocoMetric writes the categories itself, in the
        # order of classes: nothing to reorder.
        if self.cat_ids is None and self._coco_api is not None:
            self._label_cat_ids = ordered_cat_ids(self._coco_api,
                                                  self.dataset_meta['classes'])
            # pycocotools' COCOeval sorts the ids it evaluates; CocoMetric's
            # per-class table reads them in the order of cat_ids.
            self.cat_ids = sorted(self._label_cat_ids)
        return super().compute_metrics(results)

    def results2json(self, results: list, outfile_prefix: str) -> dict:
        # Label i is the category of classes[i] in the result files.
        label_cat_ids = getattr(self, '_label_cat_ids', None)
        if label_cat_ids is None:
            return super().results2json(results, outfile_prefix)
        evaluated, self.cat_ids = self.cat_ids, label_cat_ids
        try:
            return super().results2json(results, outfile_prefix)
        finally:
            self.cat_ids = evaluated
