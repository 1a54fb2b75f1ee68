"""The registry entry of ``CheckedDetDataPreprocessor``: a function that
imports mmdet's models only when a detection config builds one."""
from mmrla.registry import MODELS


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
