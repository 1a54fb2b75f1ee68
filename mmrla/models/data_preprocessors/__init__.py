"""mmpretrain's and mmdet's data preprocessors, refusing images whose
channel count the normalization cannot take.

``CheckedDetDataPreprocessor`` subclasses mmdet's preprocessor, and
importing mmdet's models takes seconds that classification does not need:
its registry entry is a function that imports it when a detection config
builds one, and the class is imported on first access.
"""
from mmrla.registry import MODELS
from .channels import ImageChannelError, check_image_channels
from .cls_data_preprocessor import CheckedClsDataPreprocessor

__all__ = [
    'ImageChannelError', 'check_image_channels', 'CheckedClsDataPreprocessor',
    'build_checked_det_data_preprocessor'
]


@MODELS.register_module(name='CheckedDetDataPreprocessor')
def build_checked_det_data_preprocessor(**kwargs):
    """Build :class:`~.det_data_preprocessor.CheckedDetDataPreprocessor`
    (the config type ``CheckedDetDataPreprocessor``), importing mmdet now.

    Example:
        >>> import torch
        >>> pre = build_checked_det_data_preprocessor(mean=[0.] * 3,
        ...                                           std=[1.] * 3)
        >>> pre(dict(inputs=[torch.zeros(3, 8, 8)]))['inputs'].shape
        torch.Size([1, 3, 8, 8])
    """
    from .det_data_preprocessor import CheckedDetDataPreprocessor
    return CheckedDetDataPreprocessor(**kwargs)


def __getattr__(name: str):
    # ``from mmrla.models.data_preprocessors import
    # CheckedDetDataPreprocessor`` imports mmdet only then.
    if name == 'CheckedDetDataPreprocessor':
        from .det_data_preprocessor import CheckedDetDataPreprocessor
        return CheckedDetDataPreprocessor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
