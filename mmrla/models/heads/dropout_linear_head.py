from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead

from mmrla.registry import MODELS


@MODELS.register_module()
class DropoutLinearClsHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` with dropout before the linear layer.

    The authors' RLA-MobileNetV2 classifier is ``Dropout(0.2)`` +
    ``Linear(1280, 1000)`` (torchvision's MobileNetV2 head). Keeping the
    linear layer named ``fc`` lets converted checkpoints and plain
    ``LinearClsHead`` checkpoints load unchanged.

    Args:
        num_classes (int): Number of categories.
        in_channels (int): Channels of the pooled feature.
        dropout_rate (float): Probability of zeroing an input of the linear
            layer during training. Defaults to 0.2.
        init_cfg (dict, optional): Initialization config.
        **kwargs: Other arguments of ``LinearClsHead`` (loss, topk...).

    Example:
        >>> import torch
        >>> head = DropoutLinearClsHead(num_classes=10, in_channels=1280)
        >>> head((torch.rand(2, 1280), )).shape
        torch.Size([2, 10])
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 dropout_rate: float = 0.2,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs) -> None:
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)
        if not 0 <= dropout_rate < 1:
            raise ValueError(
                f'dropout_rate must be in [0, 1), got {dropout_rate!r}.')
        self.dropout = nn.Dropout(p=dropout_rate)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.dropout(self.pre_logits(feats)))
