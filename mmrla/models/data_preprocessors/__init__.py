"""mmpretrain's and mmdet's data preprocessors, refusing images whose
channel count the normalization cannot take.

``CheckedDetDataPreprocessor`` subclasses mmdet's preprocessor, and only
detection needs mmdet: its registry entry is a function that imports it
when a detection config builds one, and the class is imported on first
access, so that the classifiers work where mmdet is not installed.
"""
from .channels import ImageChannelError, check_image_channels
from .cls_data_preprocessor import CheckedClsDataPreprocessor
from .det_entry import build_checked_det_data_preprocessor

__all__ = [
    'ImageChannelError', 'check_image_channels', 'CheckedClsDataPreprocessor',
    'build_checked_det_data_preprocessor'
]


def __getattr__(name: str):
    # ``from mmrla.models.data_preprocessors import
    # CheckedDetDataPreprocessor`` imports mmdet only then.
    if name == 'CheckedDetDataPreprocessor':
        from .det_data_preprocessor import CheckedDetDataPreprocessor
        return CheckedDetDataPreprocessor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
