"""What the RLA backbones share: checks, initialization, the classification
read-out of ``h``, freezing, ``norm_eval`` and the speed-path switches."""
from typing import Callable, List, Optional

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.converters import (check_pretrained_file, check_pretrained_prefix,
                              refuse_mostly_missing,
                              refuse_unconverted_checkpoints)
from ..utils import check_images, check_positive_int

# The classification read-out of h: norm then the backbone's activation
# (released models), norm then tanh (the authors' ``rlav1_resnet50``
# ablation), or h as it is (the post-activated, ConvLSTM and ConvGRU cells,
# whose state is already squashed).
READOUTS = ('norm_act', 'norm_tanh', 'none')


class StageFreezing:
    """``frozen_stages`` and ``norm_eval`` of a backbone (a mixin before
    ``nn.Module`` in the bases).

    Subclasses set ``norm_eval`` and list in :meth:`_frozen_modules` what
    their ``frozen_stages`` covers; ``train()`` keeps those modules in eval
    mode without gradients, and every batch norm in eval mode with
    ``norm_eval``.
    """

    def _frozen_modules(self) -> List[nn.Module]:
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


class RLABackbone(StageFreezing, BaseModule):
    """Base class of the RLA backbones.

    Subclasses build ``self.rla_cell`` (the cell type, see
    :mod:`mmrla.models.utils.rla_cell`; None for a plain baseline built
    without RLA), set ``frozen_stages``,
    ``norm_eval`` and ``in_channels``, and list what ``frozen_stages`` covers
    in :meth:`_frozen_modules`, including the RLA path's shared convs and
    norms of those stages.

    Two switches keep the paper's math visible:

    - :meth:`set_fast_paths`: ``False`` runs the plain form of every
      computation (e.g. ``conv1`` over the materialized ``cat(x, h)``); the
      default ``True`` allows exact speed paths that change neither the
      training math nor the state dict.
    - :meth:`switch_to_deploy`: inference-only rewrites (split or stacked
      weights kept instead of built per call, a faster CPU tanh), as
      mmpretrain's RepVGG does. A deployed model is for inference; it
      refuses ``train()``.
    """

    deploy: bool = False

    def __init__(self, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        # An authors' checkpoint loaded without conversion stops with the
        # command that converts it, instead of leaving weights random.
        refuse_unconverted_checkpoints(self)
        # So does a file of another model (e.g. a torchvision ResNet), which
        # mmengine's non-strict loaders would load with a warning only.
        refuse_mostly_missing(self)

    def _check_common_args(self,
                           rla_channel: int,
                           frozen_stages: int,
                           max_frozen: int,
                           frozen_help: str,
                           rla_hint: str = 'the paper uses 32') -> None:
        check_positive_int(rla_channel, 'rla_channel', rla_hint)
        if not isinstance(frozen_stages, int) or \
                not -1 <= frozen_stages <= max_frozen:
            raise ValueError(
                f'frozen_stages must be an integer in -1..{max_frozen} '
                f'({frozen_help}), got {frozen_stages!r}.')

    def _check_input(self, x: torch.Tensor) -> None:
        check_images(x, self.in_channels, type(self).__name__)

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            check_pretrained_file(self.init_cfg.get('checkpoint'))
            check_pretrained_prefix(self, self.init_cfg)
            super().init_weights()
            # Pretrained weights must not be overwritten by zero init.
            return
        super().init_weights()
        self._init_after_weights()

    def _init_after_weights(self) -> None:
        """Initialization that follows ``init_cfg`` unless weights are
        pretrained, e.g. zero-init of residual norms."""

    def _build_readout(self, readout: Optional[str], channels: int,
                       norm_cfg: dict, act_cfg: dict) -> None:
        """Build ``rla_out_norm`` and ``rla_out_act`` for ``readout`` (one
        of :data:`READOUTS`; None: no read-out, detection mode)."""
        if readout is not None and readout not in READOUTS:
            raise ValueError(f'readout must be one of {READOUTS}, got '
                             f'{readout!r}.')
        with_norm = readout in ('norm_act', 'norm_tanh')
        self.rla_out_norm = build_norm_layer(norm_cfg, channels)[1] \
            if with_norm else None
        self.rla_out_act = build_activation_layer(
            act_cfg if readout == 'norm_act' else dict(
                type='Tanh')) if with_norm else None

    def _readout(self, h: torch.Tensor) -> torch.Tensor:
        """``act(norm(h))`` (or ``h`` itself for ``readout='none'``), the
        state appended to the classification feature."""
        if self.rla_out_norm is not None:
            h = self.rla_out_norm(h)
        return h if self.rla_out_act is None else self.rla_out_act(h)

    def set_fast_paths(self, enabled: bool = True) -> 'RLABackbone':
        """Allow (True, default) or forbid (False) the exact split forms of
        the layers over ``cat(x, h)``: one flag on the cell type, which
        every block of this backbone shares."""
        if self.rla_cell is not None:  # None: a plain baseline, no RLA
            self.rla_cell.fast = bool(enabled)
        return self

    @property
    def fast_paths(self) -> bool:
        """Whether the exact speed paths are allowed (see
        :meth:`set_fast_paths`)."""
        return self.rla_cell is not None and self.rla_cell.fast

    def switch_to_deploy(self) -> 'RLABackbone':
        """Apply the inference-only rewrites and switch to eval mode."""
        self.eval()
        if self.rla_cell is not None:
            self.rla_cell.deploy = True
        for m in self.modules():
            if m is not self and hasattr(m, 'switch_to_deploy'):
                m.switch_to_deploy()
        self.deploy = True
        return self

    def train(self, mode: bool = True) -> 'RLABackbone':
        if mode and self.deploy:
            raise RuntimeError(
                f'This {type(self).__name__} was switched to deploy mode, '
                'which is for inference only; build a new model (or load '
                'the checkpoint again) to train.')
        return super().train(mode)


def checkpointed(fn: Callable, with_cp: bool, *args):
    """``fn(*args)``, through gradient checkpointing when ``with_cp`` and
    autograd is recording.

    Non-reentrant checkpointing keeps parameter gradients even when no input
    requires grad (e.g. after frozen stages).
    """
    if with_cp and torch.is_grad_enabled():
        return cp.checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)
