import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmrla.registry import MODELS


@MODELS.register_module()
class ECALayer(BaseModule):
    """Efficient Channel Attention (Wang et al., CVPR 2020).

    A 1D convolution across the globally pooled channel descriptor gives a
    sigmoid gate per channel. The parameter name ``conv`` matches the
    authors' ECA-Net and RLA-Net checkpoints.

    Args:
        channels (int): Number of input (and output) channels.
        kernel_size (int): Size of the 1D kernel across channels; must be a
            positive odd number so that the channel count is preserved.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Example:
        >>> import torch
        >>> layer = ECALayer(64, kernel_size=5)
        >>> layer(torch.rand(2, 64, 7, 9)).shape
        torch.Size([2, 64, 7, 9])
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int = 3,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(kernel_size, int) or kernel_size < 1 \
                or kernel_size % 2 == 0:
            raise ValueError(
                f'ECA kernel_size must be a positive odd integer, got '
                f'{kernel_size!r}; use e.g. 3, 5 or 7.')
        self.channels = channels
        self.conv = nn.Conv1d(
            1,
            1,
            kernel_size=kernel_size,
            padding=(kernel_size - 1) // 2,
            bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate of each channel, shape (N, C, 1, 1)."""
        n, c = x.shape[:2]
        weight = x.mean(dim=(2, 3)).view(n, 1, c)
        return self.conv(weight).sigmoid().view(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)
