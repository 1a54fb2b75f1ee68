from typing import List

import torch.nn as nn
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm


class RLABackbone(BaseModule):
    """Freezing and ``norm_eval`` shared by the RLA backbones.

    Subclasses set ``frozen_stages`` and ``norm_eval`` and list what
    ``frozen_stages`` covers in :meth:`_frozen_modules`, including the RLA
    path's shared convs and norms of those stages.
    """

    def _frozen_modules(self) -> List[nn.Module]:
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'RLABackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
