"""ResNet with extra channels in every stage, the paper's ablation (a).

Section 4.4 asks whether RLA's gain comes from its extra width: a plain
ResNet-50 with 32 more output channels in each stage (the authors'
``resnet50_k``) has more parameters than RLA-ResNet-50 and is still worse.
No RLA is involved, so this is mmpretrain's ResNet with wider stages.
"""
from mmpretrain.models import ResNet
from mmpretrain.models.backbones.resnet import get_expansion

from mmrla.registry import MODELS


def check_extra_channels(extra_channels, expansion: int, depth,
                         hint: str) -> None:
    """Raise a ValueError unless ``extra_channels`` is a non-negative
    multiple of the block ``expansion`` (a bottleneck's middle width grows
    by ``extra_channels / expansion``)."""
    if not isinstance(extra_channels, int) or \
            isinstance(extra_channels, bool) or extra_channels < 0 or \
            extra_channels % expansion:
        raise ValueError(
            'extra_channels must be a non-negative multiple of the block '
            f'expansion ({expansion} for depth {depth}), got '
            f'{extra_channels!r}; {hint}.')


@MODELS.register_module()
class ResNetExtraChannels(ResNet):
    """mmpretrain's ResNet with ``extra_channels`` more output channels in
    every stage.

    Each stage's output grows from ``base_channels * 2**i * expansion`` to
    that plus ``extra_channels``; a bottleneck's middle width grows by
    ``extra_channels / expansion`` (the authors add ``k / 4`` to
    torchvision's ``planes``). The stem keeps ``stem_channels``. All other
    arguments are mmpretrain's :class:`~mmpretrain.models.ResNet`'s.

    Args:
        extra_channels (int): Channels added to each stage's output; a
            multiple of the block expansion (4 for depth >= 50). Defaults to
            32, the width of RLA's hidden state.
        **kwargs: Arguments of mmpretrain's ResNet (``depth`` required).

    Example:
        >>> import torch
        >>> model = ResNetExtraChannels(depth=50, out_indices=(0, 1, 2, 3))
        >>> [o.shape[1] for o in model(torch.rand(1, 3, 64, 64))]
        [288, 544, 1056, 2080]
        >>> model.layer1[0].conv1.out_channels
        72
    """

    def __init__(self, extra_channels: int = 32, **kwargs) -> None:
        depth = kwargs.get('depth')
        # An unknown depth is left to ResNet's own error.
        expansion = get_expansion(self.arch_settings[depth][0],
                                  kwargs.get('expansion')) \
            if depth in self.arch_settings else 1
        check_extra_channels(extra_channels, expansion, depth,
                             'the paper adds 32')
        # make_res_layer reads it while ResNet.__init__ builds the stages.
        self.extra_channels = extra_channels
        super().__init__(**kwargs)

    def make_res_layer(self, **kwargs):
        # ResNet.__init__ appends each stage to res_layers after building
        # it, so its length is the index of the stage being built.
        if self.res_layers:
            kwargs['in_channels'] += self.extra_channels
        kwargs['out_channels'] += self.extra_channels
        return super().make_res_layer(**kwargs)
