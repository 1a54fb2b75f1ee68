"""The RLA recurrence, in one place.

One step of the hidden state ``h`` along depth (paper, Eq. 5 and Figure 3)::

    h <- cell(pool(h), update)          # update = shared 1x1 conv of a block
    RLACell:  h <- conv(tanh(norm(h + update)))

:func:`rla_step` owns the parts every cell shares: the zero initial state,
the pooling into a strided block's resolution and where the update enters
(before the cell, as proposed, or after it, the paper's Figure 4 v2/v4/v6).
A cell type owns the rest, the unit itself. Both RLA backbones call
:func:`rla_step`, so a researcher who swaps the cell (``cell_cfg``) changes
every model that uses it. The cells of the paper's ablation (Table 11) are
here too: :class:`PostActRLACell` (e), :class:`ConvLSTMCell` (d) and the
authors' :class:`ConvGRUCell`.

Where the parameters live is fixed by the released checkpoints: the norm is
the block's own (``<block>.rla_norm``) and the recurrent conv is shared by
the blocks of a stage (``rla_recurrent_convs.<stage>``). So a cell does not
own modules; it builds them (:meth:`RLACell.build_own`,
:meth:`RLACell.build_shared`), the backbone registers them in those places,
and the step receives them. That keeps a layer replaced after building
(e.g. mmengine's ``sync_bn`` conversion) in use.

A cell's state is a tensor or, for :class:`ConvLSTMCell`, a tuple of
tensors ``(h, c)``; :meth:`RLACell.hidden` reads out the ``h`` that the main
network and the classifier see.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer

from mmrla.registry import MODELS

State = Union[torch.Tensor, Tuple[torch.Tensor, ...]]

# Where the update enters the recurrence (paper, Figure 4): before the cell,
# h <- cell(h + u) (proposed; v1, v3, v5), or after it, h <- cell(h) + u
# (v2, v4, v6).
UPDATE_POSITIONS = ('before', 'after')


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
        steps_without_input (bool): Whether the cell can step with no update
            (``update=None``), which ``update_position='after'`` needs.

    Example:
        >>> import torch
        >>> cell = RLACell(8)
        >>> own, shared = cell.build_own(), cell.build_shared()
        >>> h = rla_step(cell, None, torch.rand(2, 8, 6, 6), 1, own, shared)
        >>> rla_step(cell, h, torch.rand(2, 8, 3, 3), 2, own, shared).shape
        torch.Size([2, 8, 3, 3])
    """

    steps_without_input = True

    def __init__(self,
                 channels: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 depthwise: bool = False) -> None:
        self.channels = channels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.depthwise = depthwise

    def build_own(self) -> nn.Module:
        """The module each block owns: its norm (``<block>.rla_norm``)."""
        return build_norm_layer(self.norm_cfg, self.channels)[1]

    def build_shared(self, dilation: int = 1) -> nn.Module:
        """The module a stage's blocks share: the recurrent 3x3 conv
        (dilated in a dilated stage)."""
        return build_conv_layer(
            self.conv_cfg,
            self.channels,
            self.channels,
            3,
            padding=dilation,
            dilation=dilation,
            groups=self.channels if self.depthwise else 1,
            bias=False)

    def initial_state(self, update: torch.Tensor) -> State:
        """The zero state, shaped like the first update."""
        return torch.zeros_like(update)

    def hidden(self, state: Optional[State]) -> Optional[torch.Tensor]:
        """The ``h`` fed to the main network and the classifier (None, the
        zero state before the first block, stays None)."""
        return state

    def __call__(self, h: torch.Tensor, update: Optional[torch.Tensor],
                 own: nn.Module, shared: nn.Module) -> torch.Tensor:
        """One step: ``shared(tanh(own(h + update)))``; ``update=None``
        (the update enters after the cell) steps ``h`` alone."""
        x = h if update is None else h + update
        return shared(torch.tanh(own(x)))


@MODELS.register_module()
class PostActRLACell(RLACell):
    """The post-activated unit of the paper's ablation (e) (Figure 7 of the
    appendix; the authors' ``rlav1p_resnet50``).

    ``h <- tanh(norm(conv(h + update)))``: Conv-BN-tanh instead of
    BN-tanh-Conv, with the same modules in the same places as
    :class:`RLACell`. Its state is already squashed by tanh, so the authors
    feed it to the classifier as it is (``readout='none'``).

    Example:
        >>> import torch
        >>> cell = PostActRLACell(8)
        >>> own, shared = cell.build_own().eval(), cell.build_shared()
        >>> h = rla_step(cell, None, torch.rand(2, 8, 6, 6), 1, own, shared)
        >>> bool(h.abs().max() < 1)
        True
    """

    def __call__(self, h: torch.Tensor, update: Optional[torch.Tensor],
                 own: nn.Module, shared: nn.Module) -> torch.Tensor:
        """One step: ``tanh(own(shared(h + update)))``."""
        x = h if update is None else h + update
        return torch.tanh(own(shared(x)))


class _GatedCell(RLACell):
    """Shared part of the gated cells: the update is their *input* ``z``,
    normalized by the block's own norm and squashed, ``z = tanh(own(u))``,
    as in the authors' ``rlalstm_resnet50`` and ``rlagru_resnet50``."""

    steps_without_input = False

    def __init__(self,
                 channels: int,
                 depthwise: bool = False,
                 **kwargs) -> None:
        if depthwise:
            raise ValueError(
                f'{type(self).__name__} has no depthwise form (it mixes '
                'input and state channels in its gates), so it cannot '
                'serve RLAMobileNetV2; use RLACell or PostActRLACell there, '
                'or the cell with RLAResNet.')
        super().__init__(channels, depthwise=False, **kwargs)

    def _input(self, update: torch.Tensor, own: nn.Module) -> torch.Tensor:
        return torch.tanh(own(update))

    def _conv(self, conv: nn.Module, z: torch.Tensor,
              h: torch.Tensor) -> torch.Tensor:
        """``conv(cat(z, h))``."""
        return conv(torch.cat([z, h], dim=1))


@MODELS.register_module()
class ConvLSTMCell(_GatedCell):
    """The ConvLSTM unit of the paper's ablation (d) (Figure 6 of the
    appendix; the authors' ``rlalstm_resnet50``).

    With ``z = tanh(own(update))`` and ``[i, f, o, g] = conv(cat(z, h))``
    (a stage-shared 3x3 conv, 2k -> 4k, no bias)::

        c <- sigmoid(f) * c + sigmoid(i) * tanh(g)
        h <- sigmoid(o) * tanh(c)

    The state is ``(h, c)``; both are pooled in strided blocks.

    Args:
        channels (int): Channels ``k`` of ``h`` and ``c``.
        conv_cfg (dict, optional): Config of the gate conv.
        norm_cfg (dict): Config of the per-block norm of the input.
        depthwise (bool): Must be False.

    Example:
        >>> import torch
        >>> cell = ConvLSTMCell(8)
        >>> own, shared = cell.build_own(), cell.build_shared()
        >>> state = rla_step(cell, None, torch.rand(2, 8, 6, 6), 1, own,
        ...                  shared)
        >>> state = rla_step(cell, state, torch.rand(2, 8, 3, 3), 2, own,
        ...                  shared)
        >>> [t.shape for t in state], cell.hidden(state) is state[0]
        ([torch.Size([2, 8, 3, 3]), torch.Size([2, 8, 3, 3])], True)
    """

    def build_shared(self, dilation: int = 1) -> nn.Module:
        """The gate conv over ``cat(z, h)`` (2k -> 4k, 3x3, no bias)."""
        return build_conv_layer(
            self.conv_cfg,
            2 * self.channels,
            4 * self.channels,
            3,
            padding=dilation,
            dilation=dilation,
            bias=False)

    def initial_state(self, update: torch.Tensor) -> State:
        return torch.zeros_like(update), torch.zeros_like(update)

    def hidden(self, state: Optional[State]) -> Optional[torch.Tensor]:
        return None if state is None else state[0]

    def __call__(self, state: Tuple[torch.Tensor, torch.Tensor],
                 update: torch.Tensor, own: nn.Module,
                 shared: nn.Module) -> Tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = self._conv(shared, self._input(update, own), h).chunk(
            4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


@MODELS.register_module()
class ConvGRUCell(_GatedCell):
    """The ConvGRU unit of the authors' ``rlagru_resnet50``.

    With ``z = tanh(own(update))`` and the stage-shared module ``shared``
    (keys as in the authors' ``ConvGRUCell_layer``)::

        r, u = sigmoid(norm_r(.)), sigmoid(norm_u(.)) of gate_conv(cat(z, h))
        y = tanh(output_norm(output_conv(cat(z, r * h))))
        h <- u * h + (1 - u) * y

    ``gate_conv`` (2k -> 2k) and ``output_conv`` (2k -> k) are 3x3 convs
    with bias; the three norms are ``gate_norm_cfg`` (one-group GroupNorm,
    eps 1e-6, as the authors').

    Args:
        channels (int): Channels ``k`` of the hidden state.
        conv_cfg (dict, optional): Config of the two convs.
        norm_cfg (dict): Config of the per-block norm of the input.
        gate_norm_cfg (dict): Config of the gate and output norms.
        depthwise (bool): Must be False.

    Example:
        >>> import torch
        >>> cell = ConvGRUCell(8)
        >>> own, shared = cell.build_own(), cell.build_shared()
        >>> sorted(shared.keys())[:2]
        ['gate_conv', 'output_conv']
        >>> h = rla_step(cell, None, torch.rand(2, 8, 6, 6), 1, own, shared)
        >>> rla_step(cell, h, torch.rand(2, 8, 3, 3), 2, own, shared).shape
        torch.Size([2, 8, 3, 3])
    """

    def __init__(self,
                 channels: int,
                 gate_norm_cfg: dict = dict(type='GN', num_groups=1, eps=1e-6),
                 **kwargs) -> None:
        super().__init__(channels, **kwargs)
        self.gate_norm_cfg = gate_norm_cfg

    def build_shared(self, dilation: int = 1) -> nn.Module:
        """``gate_conv``, ``reset_gate_norm``, ``update_gate_norm``,
        ``output_conv`` and ``output_norm``."""
        k = self.channels

        def norm():
            return build_norm_layer(self.gate_norm_cfg, k)[1]

        return nn.ModuleDict(
            dict(
                gate_conv=build_conv_layer(
                    self.conv_cfg,
                    2 * k,
                    2 * k,
                    3,
                    padding=dilation,
                    dilation=dilation,
                    bias=True),
                reset_gate_norm=norm(),
                update_gate_norm=norm(),
                output_conv=build_conv_layer(
                    self.conv_cfg,
                    2 * k,
                    k,
                    3,
                    padding=dilation,
                    dilation=dilation,
                    bias=True),
                output_norm=norm()))

    def __call__(self, h: torch.Tensor, update: torch.Tensor, own: nn.Module,
                 shared: nn.Module) -> torch.Tensor:
        z = self._input(update, own)
        r, u = self._conv(shared.gate_conv, z, h).chunk(2, dim=1)
        r = torch.sigmoid(shared.reset_gate_norm(r))
        u = torch.sigmoid(shared.update_gate_norm(u))
        y = torch.tanh(
            shared.output_norm(self._conv(shared.output_conv, z, r * h)))
        return u * h + (1 - u) * y


def pool_hidden_state(h: torch.Tensor, stride: int) -> torch.Tensor:
    """Average-pool the RLA hidden state into a strided block's resolution.

    The paper pools ``h`` by 2x2 average pooling on entering a new stage. A
    3x3 (or 1x1) convolution with stride ``s`` and "same" padding produces
    ``ceil(H / s)`` rows, whereas plain pooling gives ``floor(H / s)`` and the
    authors' code crashes on odd sizes. ``ceil_mode`` keeps the sizes aligned;
    its border windows average only the pixels that exist. At sizes divisible
    by ``s`` the result is exactly the paper's pooling.

    ``count_include_pad=False`` changes nothing in PyTorch (there is no
    padding, so both divisors count the pixels inside), but ONNX's
    ``AveragePool`` with ``ceil_mode`` and ``count_include_pad=1`` divides a
    border window by its full size, which made exported models wrong at odd
    sizes; with 0 it averages the pixels inside, as PyTorch does.

    Args:
        h (Tensor): Hidden state of shape (N, k, H, W).
        stride (int): Stride of the block.

    Returns:
        Tensor: Shape (N, k, ceil(H / stride), ceil(W / stride)).

    Example:
        >>> import torch
        >>> pool_hidden_state(torch.rand(1, 32, 57, 56), 2).shape
        torch.Size([1, 32, 29, 28])
    """
    if stride == 1:
        return h
    return F.avg_pool2d(
        h,
        kernel_size=stride,
        stride=stride,
        ceil_mode=True,
        count_include_pad=False)


def dense_pool_hidden_state(h: torch.Tensor, factor: int,
                            spacing: int) -> torch.Tensor:
    """The pooling of :func:`pool_hidden_state` at every position: the
    state of a dilated stage, which keeps its resolution where the strided
    network would pool.

    Each position averages the ``factor x factor`` window that starts at it,
    on the grid of step ``spacing`` (the dilation before the stage); windows
    that pass the border average the pixels inside, as ``ceil_mode`` does.
    Read at every ``factor * spacing``-th position, this is the strided
    pooling of the same state (docs/detection.md, "Dilated stages").

    Args:
        h (Tensor): Hidden state of shape (N, k, H, W).
        factor (int): The stride it replaces (2 for a stage of stride 1
            and twice the dilation of the stage before).
        spacing (int): The dilation of the stage before.

    Returns:
        Tensor: Shape (N, k, H, W).

    Example:
        >>> import torch
        >>> h = torch.rand(1, 8, 6, 6)
        >>> dense = dense_pool_hidden_state(h, 2, 1)
        >>> torch.allclose(dense[..., ::2, ::2], pool_hidden_state(h, 2))
        True
    """
    if factor == 1:
        return h
    reach = (factor - 1) * spacing
    channels = h.shape[1]
    ones = h.new_ones(1, 1, *h.shape[2:])
    kernel = h.new_ones(channels + 1, 1, factor, factor)
    summed = F.conv2d(
        F.pad(
            torch.cat([h, ones.expand(h.shape[0], 1, -1, -1)], 1),
            (0, reach, 0, reach)),
        kernel,
        dilation=spacing,
        groups=channels + 1)
    # The last channel counts the pixels inside each window.
    return summed[:, :channels] / summed[:, channels:]


def rla_step(cell,
             state: Optional[State],
             update: torch.Tensor,
             stride: int,
             own: nn.Module,
             shared: nn.Module,
             position: str = 'before',
             dense_pool: tuple = (1, 1)) -> State:
    """Advance the hidden state by one block.

    Args:
        cell: The cell type, e.g. an :class:`RLACell`.
        state (Tensor | tuple, optional): The state before the block,
            (N, k, H, W) (a tuple of them for :class:`ConvLSTMCell`); None
            is the zero state at the stem's resolution.
        update (Tensor): The block's shared 1x1 conv output, (N, k, H', W').
        stride (int): The block's stride; the state is average-pooled by it.
        own (nn.Module): The block's own module of the cell.
        shared (nn.Module): The stage's shared module of the cell.
        position (str): ``'before'``: ``cell(h + update)`` (proposed);
            ``'after'``: ``cell(h) + update`` (Figure 4, v2/v4/v6).
        dense_pool (tuple[int, int]): ``(factor, spacing)`` of
            :func:`dense_pool_hidden_state`, the pooling of a block that
            dilates instead of striding; ``(1, 1)`` for none.

    Returns:
        Tensor | tuple: The new state, (N, k, H', W') each.
    """
    # A strided block pools h; a block that dilates instead (stride 1)
    # averages it densely.
    pool, args = (pool_hidden_state, (stride, )) if dense_pool[0] == 1 \
        else (dense_pool_hidden_state, dense_pool)
    if state is None:
        state = cell.initial_state(update)
    elif isinstance(state, tuple):
        state = tuple(pool(s, *args) for s in state)
    else:
        state = pool(state, *args)
    if position == 'before':
        return cell(state, update, own, shared)
    return cell(state, None, own, shared) + update


def _cell_types() -> list:
    """Names of the registered cell types."""
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and issubclass(cls, RLACell))


def build_rla_cell(cell_cfg: Optional[dict], channels: int,
                   conv_cfg: Optional[dict], norm_cfg: dict, **defaults):
    """Build a cell type from ``cell_cfg`` (default ``dict(type='RLACell')``)
    with the backbone's channels and layer configs filled in."""
    cfg = dict(type='RLACell') if cell_cfg is None else dict(cell_cfg)
    cell_type = cfg.get('type')
    cls = cell_type if isinstance(cell_type, type) else \
        MODELS.module_dict.get(cell_type)
    if not (isinstance(cls, type) and issubclass(cls, RLACell)):
        raise ValueError(
            f'Unknown RLA cell type {cell_type!r} in cell_cfg; choose one '
            f'of {_cell_types()} (or register a subclass of RLACell).')
    cfg.setdefault('conv_cfg', conv_cfg)
    cfg.setdefault('norm_cfg', norm_cfg)
    for key, value in defaults.items():
        cfg.setdefault(key, value)
    return MODELS.build(cfg, default_args=dict(channels=channels))
