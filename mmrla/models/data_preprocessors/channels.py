"""The channel check of mmrla's data preprocessors.

An inferencer given an array with an alpha channel (H, W, 4) would otherwise
fail deep in the normalization with "The size of tensor a (4) must match the
size of tensor b (3)". The checked preprocessors check the batch first and
raise :class:`ImageChannelError`, one line that names the channel counts and
the fix.
"""
from typing import Sequence, Union

import torch

from mmrla.errors import UserError


class ImageChannelError(UserError, ValueError):
    """An image with a channel count the model cannot take."""


def check_image_channels(images: Union[torch.Tensor, Sequence[torch.Tensor]],
                         channels: int,
                         gray: bool = True) -> None:
    """Raise :class:`ImageChannelError` unless every image has ``channels``
    channels, or one if ``gray``.

    Args:
        images (Tensor | Sequence[Tensor]): A batch (N, C, H, W) or a list of
            images (C, H, W), as a dataloader or an inferencer gives them.
        channels (int): The channels the normalization expects (the length
            of its ``mean``).
        gray (bool): Whether one channel passes too. Defaults to True.

    Example:
        >>> check_image_channels([torch.zeros(3, 8, 8)], 3)
        >>> try:
        ...     check_image_channels(torch.zeros(2, 4, 8, 8), 3)
        ... except ImageChannelError as e:
        ...     print(e)
        an image has 4 channels, the model takes 3 (or 1, gray): drop the \
alpha channel first, e.g. img[..., :3].
    """
    allowed = {channels, 1} if gray else {channels}
    wrong = sorted({int(x.shape[-3]) for x in images} - allowed)
    if wrong:
        fix = ('drop the alpha channel first, e.g. img[..., :3].' if
               (wrong[0], channels) == (4, 3) else
               f'convert it to {channels} channels first.')
        raise ImageChannelError(
            f'an image has {wrong[0]} channels, the model takes {channels}' +
            (' (or 1, gray)' if gray else '') + f': {fix}')


class ChecksChannels:
    """Checks the batch, then runs the data preprocessor it is mixed into.

    ``accepts_gray``: whether one channel passes too.
    """
    accepts_gray = True

    def forward(self, data: dict, training: bool = False) -> dict:
        if self._enable_normalize:
            check_image_channels(data['inputs'], self.mean.shape[0],
                                 self.accepts_gray)
        return super().forward(data, training)
