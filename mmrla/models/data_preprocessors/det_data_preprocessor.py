"""mmdet's data preprocessor with the channel check.

A gray image is refused: mmengine's normalization of an image list asserts
three channels (and its ``bgr_to_rgb`` indexes channel 2). This module
imports mmdet; the registry builds the class through
:func:`~.det_entry.build_checked_det_data_preprocessor`,
so that only detection imports it.
"""
from mmdet.models.data_preprocessors import DetDataPreprocessor

from .channels import ChecksChannels


class CheckedDetDataPreprocessor(ChecksChannels, DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` that checks the channel count.

    Same arguments as ``DetDataPreprocessor``. With ``mean`` set, a batch
    whose images do not have ``len(mean)`` channels raises
    :class:`~.channels.ImageChannelError` before normalization (example:
    :func:`~.det_entry.build_checked_det_data_preprocessor`).
    """
    # mmengine asserts three channels for a list of images, and its
    # bgr_to_rgb indexes channel 2: gray is refused here.
    accepts_gray = False
