"""ECA-ResNet (Wang et al., CVPR 2020), the paper's ``+ECA`` baseline.

RLA-Net's Table 3 and Table 14 compare RLA with SE and ECA on the same
ResNets. mmpretrain has SE-ResNet but no ECA-ResNet, so this is its
SE-ResNet with the SE layer swapped for ECA: the gate of
:class:`~mmrla.models.utils.ECALayer` scales the branch after its last norm,
before the identity is added. No RLA is involved.
"""
from typing import Sequence

import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer, ResNet

from mmrla.registry import MODELS
from ..utils import ECALayer


class ECABottleneck(Bottleneck):
    """mmpretrain's Bottleneck with an ECA layer after ``norm3``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        eca_kernel_size (int): Kernel size of the ECA layer's 1D conv.
        **kwargs: Arguments of mmpretrain's Bottleneck.

    Example:
        >>> import torch
        >>> block = ECABottleneck(64, 64, eca_kernel_size=5)
        >>> block(torch.rand(1, 64, 8, 8)).shape
        torch.Size([1, 64, 8, 8])
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 eca_kernel_size: int = 3,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        self.eca = ECALayer(out_channels, eca_kernel_size)

    def forward(self, x):

        def _inner_forward(x):
            identity = x
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.relu(self.norm2(self.conv2(out)))
            out = self.eca(self.norm3(self.conv3(out)))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.drop_path(out) + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x)
        else:
            out = _inner_forward(x)
        return self.relu(out)


@MODELS.register_module()
class ECAResNet(ResNet):
    """ECA-ResNet backbone: mmpretrain's ResNet with :class:`ECABottleneck`.

    Args:
        depth (int): 50, 101 or 152.
        eca_kernel_sizes (Sequence[int]): ECA kernel size of each stage.
            Defaults to (5, 5, 5, 7), ECA-Net's adaptive size
            ``odd(log2(C) / 2 + 1 / 2)`` for 256, 512, 1024 and 2048
            channels, the sizes of the paper's RLA-ECANets.
        **kwargs: Arguments of mmpretrain's ResNet.

    Example:
        >>> import torch
        >>> model = ECAResNet(depth=50, out_indices=(0, 3))
        >>> [o.shape for o in model(torch.rand(1, 3, 64, 64))]
        [torch.Size([1, 256, 16, 16]), torch.Size([1, 2048, 2, 2])]
    """

    arch_settings = {
        50: (ECABottleneck, (3, 4, 6, 3)),
        101: (ECABottleneck, (3, 4, 23, 3)),
        152: (ECABottleneck, (3, 8, 36, 3))
    }

    def __init__(self,
                 depth: int,
                 eca_kernel_sizes: Sequence[int] = (5, 5, 5, 7),
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ECAResNet; choose '
                           f'one of {sorted(self.arch_settings)}.')
        num_stages = kwargs.get('num_stages', 4)
        if len(eca_kernel_sizes) != num_stages:
            raise ValueError(
                f'eca_kernel_sizes needs one kernel size per stage '
                f'({num_stages}), got {tuple(eca_kernel_sizes)}.')
        # make_res_layer reads it while ResNet.__init__ builds the stages.
        self.eca_kernel_sizes = tuple(eca_kernel_sizes)
        super().__init__(depth, **kwargs)

    def make_res_layer(self, **kwargs):
        # ResNet.__init__ appends each stage to res_layers after building
        # it, so its length is the index of the stage being built.
        size = self.eca_kernel_sizes[len(self.res_layers)]
        return ResLayer(eca_kernel_size=size, **kwargs)
