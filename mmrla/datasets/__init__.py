from .cifar_split import CIFAR10Split, CIFAR100Split
from .class_order_coco import ClassOrderCocoDataset
from .exclude_files import ExcludeFiles

__all__ = [
    'CIFAR10Split', 'CIFAR100Split', 'ClassOrderCocoDataset', 'ExcludeFiles'
]
