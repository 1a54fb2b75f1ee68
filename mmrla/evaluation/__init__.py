from .class_order_coco_metric import ClassOrderCocoMetric

__all__ = ['ClassOrderCocoMetric']
