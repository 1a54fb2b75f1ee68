"""mmpretrain's data preprocessor with the channel check.

A gray image (one channel) passes, as mmpretrain's normalization broadcasts
it over the channels.
"""
from mmpretrain.models.utils import ClsDataPreprocessor

from mmrla.registry import MODELS
from .channels import ChecksChannels


@MODELS.register_module()
class CheckedClsDataPreprocessor(ChecksChannels, ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` that checks the channel count.

    Same arguments as ``ClsDataPreprocessor``. With ``mean`` set, a batch
    whose images have neither ``len(mean)`` channels nor one raises
    :class:`ImageChannelError` before normalization.

    Example:
        >>> import torch
        >>> pre = CheckedClsDataPreprocessor(mean=[0.] * 3, std=[1.] * 3)
        >>> pre(dict(inputs=[torch.zeros(3, 8, 8)]))['inputs'].shape
        torch.Size([1, 3, 8, 8])
    """
