"""The RLA recurrence, in one place.

One step of the hidden state ``h`` along depth (paper, Eq. 5 and Figure 3)::

    h <- cell(pool(h), update)          # update = shared 1x1 conv of a block
    RLACell:  h <- conv(tanh(norm(h + update)))

:func:`rla_step` owns the parts every cell shares: the zero initial state and
the pooling into a strided block's resolution. A cell type owns the rest, the
unit itself. Both RLA backbones call :func:`rla_step`, so a researcher who
swaps the cell (``cell_cfg``) changes every model that uses it.

Where the parameters live is fixed by the released checkpoints: the norm is
the block's own (``<block>.rla_norm``) and the recurrent conv is shared by
the blocks of a stage (``rla_recurrent_convs.<stage>``). So a cell does not
own modules; it builds them (:meth:`RLACell.build_own`,
:meth:`RLACell.build_shared`), the backbone registers them in those places,
and the step receives them. That keeps a layer replaced after building
(e.g. mmengine's ``sync_bn`` conversion) in use.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer

from mmrla.registry import MODELS
from ._fast_ops import fast_tanh_
from .hidden_state import hidden_state_layout, pool_hidden_state


@MODELS.register_module()
class RLACell:
    """The paper's recurrent unit (RLA-v1, pre-activation).

    ``h <- conv(tanh(norm(h + update)))``, with a per-block norm and a 3x3
    conv shared by the blocks of a stage (depthwise in RLA-MobileNetV2).

    Args:
        channels (int): Channels ``k`` of the hidden state.
        conv_cfg (dict, optional): Config of the recurrent conv.
        norm_cfg (dict): Config of the per-block norm.
        depthwise (bool): Depthwise recurrent conv (``groups=k``), as in
            RLA-MobileNetV2. Defaults to False.

    Attributes:
        fast (bool): Allow exact speed paths (set by the backbone's
            ``set_fast_paths``): a channels_last state on CPU for depthwise
            convs.
        deploy (bool): Inference-only rewrites (set by the backbone's
            ``switch_to_deploy``): the faster CPU tanh.

    Example:
        >>> import torch
        >>> cell = RLACell(8)
        >>> own, shared = cell.build_own(), cell.build_shared()
        >>> h = rla_step(cell, None, torch.rand(2, 8, 6, 6), 1, own, shared)
        >>> rla_step(cell, h, torch.rand(2, 8, 3, 3), 2, own, shared).shape
        torch.Size([2, 8, 3, 3])
    """

    def __init__(self,
                 channels: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 depthwise: bool = False) -> None:
        self.channels = channels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.depthwise = depthwise
        self.fast = True
        self.deploy = False

    def build_own(self) -> nn.Module:
        """The module each block owns: its norm (``<block>.rla_norm``)."""
        return build_norm_layer(self.norm_cfg, self.channels)[1]

    def build_shared(self) -> nn.Module:
        """The module a stage's blocks share: the recurrent 3x3 conv."""
        return build_conv_layer(
            self.conv_cfg,
            self.channels,
            self.channels,
            3,
            padding=1,
            groups=self.channels if self.depthwise else 1,
            bias=False)

    def initial_state(self, update: torch.Tensor) -> torch.Tensor:
        """The zero state, shaped like the first update."""
        h = torch.zeros_like(update)
        # oneDNN's depthwise convs and average pooling run several times
        # faster channels_last on CPU; the layout carries through the sums.
        return hidden_state_layout(h) if self.fast and self.depthwise else h

    def __call__(self, h: torch.Tensor, update: torch.Tensor, own: nn.Module,
                 shared: nn.Module) -> torch.Tensor:
        """One step: ``shared(tanh(own(h + update)))``."""
        h = own(h + update)
        return shared(fast_tanh_(h) if self.deploy else torch.tanh(h))


def rla_step(cell, h: Optional[torch.Tensor], update: torch.Tensor,
             stride: int, own: nn.Module, shared: nn.Module) -> torch.Tensor:
    """Advance the hidden state by one block.

    Args:
        cell: The cell type, e.g. an :class:`RLACell`.
        h (Tensor, optional): The state before the block, (N, k, H, W); None
            is the zero state at the stem's resolution.
        update (Tensor): The block's shared 1x1 conv output, (N, k, H', W').
        stride (int): The block's stride; ``h`` is average-pooled by it.
        own (nn.Module): The block's own module of the cell.
        shared (nn.Module): The stage's shared module of the cell.

    Returns:
        Tensor: The new state, (N, k, H', W').
    """
    h = cell.initial_state(update) if h is None else \
        pool_hidden_state(h, stride)
    return cell(h, update, own, shared)


def build_rla_cell(cell_cfg: Optional[dict], channels: int,
                   conv_cfg: Optional[dict], norm_cfg: dict, **defaults):
    """Build a cell type from ``cell_cfg`` (default ``dict(type='RLACell')``)
    with the backbone's channels and layer configs filled in."""
    cfg = dict(type='RLACell') if cell_cfg is None else dict(cell_cfg)
    cfg.setdefault('conv_cfg', conv_cfg)
    cfg.setdefault('norm_cfg', norm_cfg)
    for key, value in defaults.items():
        cfg.setdefault(key, value)
    return MODELS.build(cfg, default_args=dict(channels=channels))
