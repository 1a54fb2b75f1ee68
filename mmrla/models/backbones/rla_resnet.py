"""RLA-ResNet: ResNet with Recurrent Layer Aggregation (Zhao et al., 2021).

The hidden state ``h`` (``rla_channel`` = k channels) starts at zero at the
stem's resolution. Each block sees ``cat(x, h)`` at its first conv; its
output goes through the stage's *shared* 1x1 conv (C -> k) and is added to
``h`` (pooled first when the block strides); then ``h`` passes the block's
own norm, tanh and the stage's *shared* 3x3 conv.

Every variant of the paper's ablation (Tables 11 and 15) is an argument of
:class:`RLAResNet`: the recurrent unit (``cell_cfg``), what feeds the 1x1
conv (``rla_source``) and where its output enters (``update_position``),
per-block instead of shared convs (``share_rla_convs``), no hidden state in
the main network (``exchange``) and the classifier's read-out of ``h``
(``readout``). See ``configs/ablations/``.
"""
import warnings
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import (ConvModule, build_activation_layer, build_conv_layer,
                      build_norm_layer, build_plugin_layer)
from mmengine.model import BaseModule, Sequential
from mmengine.registry import DefaultScope
from mmpretrain.models.utils import SELayer

from mmrla.registry import MODELS
from ..utils import (UPDATE_POSITIONS, ECALayer, RLACell, build_rla_cell,
                     check_choice, rla_step)
from ..utils.fold import fold_norms
from ..utils.rla_cell import State
from .base import (DEFAULT_INIT_CFG, RLABackbone, build_update_conv,
                   check_images, checkpointed)
from .rla_resnet_deploy import stack_update_convs

# What feeds a block's update conv: the block output (released code), the
# residual branch (paper's Figure 3) or the shortcut (Figure 4, v5/v6).
RLA_SOURCES = ('output', 'residual', 'shortcut')
# mmdet's ResNet styles: the stride in the 3x3 conv or in the first 1x1.
STYLES = ('pytorch', 'caffe')
# Where mmdet's Bottleneck inserts plugin layers.
PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')

# The defaults of the arguments that RLAResNet leaves None, by the library
# that builds the model: those of mmpretrain's ResNet (classification, with h
# appended to the last feature) or of mmdet's (detection: stage features for
# a neck). mmdet's configs and tools build models in the scopes below.
CLASSIFICATION_DEFAULTS = dict(
    out_indices=(3, ), concat_hidden=True, norm_eval=False)
DETECTION_DEFAULTS = dict(
    out_indices=(0, 1, 2, 3), concat_hidden=False, norm_eval=True)
DETECTION_SCOPES = ('mmdet', )


def task_defaults() -> dict:
    """:data:`DETECTION_DEFAULTS` while mmengine's default scope is one of
    :data:`DETECTION_SCOPES`, else :data:`CLASSIFICATION_DEFAULTS`."""
    scope = DefaultScope.get_current_instance()
    if scope is not None and scope.scope_name in DETECTION_SCOPES:
        return DETECTION_DEFAULTS
    return CLASSIFICATION_DEFAULTS


def resnet_init_cfg(pretrained: Optional[str], init_cfg):
    """``init_cfg`` from the deprecated ``pretrained`` as mmdet's ResNet
    does, or the default: Kaiming convs and unit norms."""
    if pretrained is not None:
        if not isinstance(pretrained, str):
            raise TypeError(
                f'pretrained must be a checkpoint path or None, got '
                f'{pretrained!r}; better, use init_cfg=dict(type='
                "'Pretrained', checkpoint=...).")
        if init_cfg is not None:
            raise ValueError(
                'pretrained and init_cfg cannot both be set; use init_cfg '
                "alone: init_cfg=dict(type='Pretrained', checkpoint=...).")
        warnings.warn('pretrained is deprecated, use init_cfg=dict('
                      "type='Pretrained', checkpoint=...) instead.")
        return dict(type='Pretrained', checkpoint=pretrained)
    return DEFAULT_INIT_CFG if init_cfg is None else init_cfg


def check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(
            f"style must be 'pytorch' (stride in the 3x3 conv) or 'caffe' "
            f'(stride in the first 1x1 conv), got {style!r}.')


def build_block_plugins(block: nn.Module, plugins: Optional[List[dict]],
                        channels: dict) -> dict:
    """Build mmcv plugin layers into ``block``, as mmdet's ``Bottleneck``.

    Args:
        block (nn.Module): The block that owns the layers (as attributes
            named by :func:`mmcv.cnn.build_plugin_layer`, e.g.
            ``context_block``).
        plugins (list[dict], optional): ``dict(cfg=..., position=...)``
            each; ``cfg`` may hold a ``postfix`` that tells two layers of
            one type apart.
        channels (dict): Input channels at each position.

    Returns:
        dict: The layer names at each position of :data:`PLUGIN_POSITIONS`.
    """
    names = {position: [] for position in PLUGIN_POSITIONS}
    for plugin in plugins or []:
        position = plugin.get('position')
        if position not in PLUGIN_POSITIONS or 'cfg' not in plugin:
            raise ValueError(f'Each plugin needs a cfg and a position in '
                             f'{PLUGIN_POSITIONS}, got {plugin!r}.')
        cfg = dict(plugin['cfg'])
        check_plugin_type(cfg.get('type'))
        name, layer = build_plugin_layer(
            cfg,
            in_channels=channels[position],
            postfix=cfg.pop('postfix', ''))
        if hasattr(block, name):
            raise ValueError(
                f'Two plugins are both named {name!r} in one block; give '
                "them different cfg['postfix'] values (e.g. 1 and 2).")
        block.add_module(name, layer)
        names[position].append(name)
    return names


def check_plugin_type(plugin_type) -> None:
    """Refuse a plugin type that no registry in scope knows."""
    if isinstance(plugin_type, type):
        return
    with MODELS.switch_scope_and_registry(None) as registry:
        if plugin_type is None or registry.get(plugin_type) is None:
            raise ValueError(
                f'Unknown plugin type {plugin_type!r}; mmcv has e.g. '
                "'ContextBlock', 'GeneralizedAttention' and 'NonLocal2d' "
                "(and mmdet 'DropBlock', in mmdet's scope).")


def stage_plugins(plugins: Optional[List[dict]], stage: int,
                  num_stages: int) -> List[dict]:
    """The plugins of stage ``stage`` (0-based): those whose ``stages``
    flags (one per stage) include it, or that have no ``stages``."""
    selected = []
    for plugin in plugins or []:
        plugin = dict(plugin)
        stages = plugin.pop('stages', None)
        if stages is not None and len(stages) != num_stages:
            raise ValueError(
                f'A plugin\'s stages needs one flag per stage ({num_stages}), '
                f'got {tuple(stages)} in {plugin!r}.')
        if stages is None or stages[stage]:
            selected.append(plugin)
    return selected


def build_block_cell(cell_cfg: Optional[dict], rla_channel: int,
                     conv_cfg: Optional[dict], norm_cfg: dict, rla_source: str,
                     update_position: str, exchange: bool,
                     concat_hidden: bool) -> RLACell:
    """Check the RLA options of the :class:`_RLABlock` backbones and build
    their cell type (see :func:`~mmrla.models.utils.build_rla_cell`).

    Raises:
        ValueError: For an unknown source, position or cell, and for the
            combinations that cannot work, naming the valid choices.
    """
    check_choice(rla_source, RLA_SOURCES, 'rla_source')
    check_choice(update_position, UPDATE_POSITIONS, 'update_position')
    if not exchange and not concat_hidden:
        raise ValueError(
            'exchange=False keeps h out of the main network, so only the '
            'classifier reads it; with concat_hidden=False nothing would '
            '(its parameters would get no gradient). Use exchange=True '
            'or concat_hidden=True.')
    cell = build_rla_cell(cell_cfg, rla_channel, conv_cfg, norm_cfg)
    if update_position == 'after' and not cell.steps_without_input:
        raise ValueError(
            f"update_position='after' adds the update after the cell, "
            f'but {type(cell).__name__} takes the update as its '
            "input; use update_position='before' or a cell that steps "
            'without input (RLACell, PostActRLACell).')
    return cell


class _RLABlock(BaseModule):
    """What the RLA residual blocks share.

    A block is called as ``block(x, h, out_conv, shared)``: the block input
    (N, C_in, H, W), the cell's state before it (None for the zero state),
    the update conv (C_out -> k) and the cell's shared module that it steps
    with. It returns its output (N, C_out, H', W') and the new state (None
    when it does not update ``h``). Each subclass writes its forward as
    mmdet's blocks do: the residual branch, whose first conv reads
    :meth:`_cat_hidden`, then :meth:`_sum_and_step`.

    Args:
        in_channels (int): Channels of ``x`` (``h`` not included).
        out_channels (int): Output channels of the block.
        rla_channel (int): Channels ``k`` of the hidden state.
        stride (int): Stride of the block's spatial conv and shortcut.
        downsample (nn.Module, optional): Shortcut projection.
        rla_cell (RLACell, optional): The cell type of the recurrence; the
            block owns the cell's per-block module (``rla_norm`` for
            :class:`RLACell`). Defaults to ``RLACell(rla_channel)``.
        with_rla_update (bool): Whether this block updates ``h``. Only the
            very last block of a detection backbone skips it, since nothing
            would consume its update.
        se_ratio (int, optional): Squeeze ratio of an SE layer after the
            branch; None for no SE.
        eca_kernel_size (int, optional): Kernel size of an ECA layer after
            the branch; None for no ECA.
        rla_source (str): What feeds the shared 1x1 conv: ``'output'``, the
            block output after the residual sum and activation, as in the
            authors' released code and weights; ``'residual'``, the
            residual branch alone, as drawn in the paper's Figure 3; or
            ``'shortcut'``, the identity (or its projection), Figure 4 v5/v6.
        update_position (str): ``'before'``: ``h <- cell(h + update)``;
            ``'after'``: ``h <- cell(h) + update`` (Figure 4 v2/v4/v6).
        share_rla_convs (bool): Whether the backbone passes the stage's
            shared 1x1 conv and cell module. If False, the block owns them
            (``rla_out_conv``, ``rla_recurrent_conv``), the paper's
            unshared ablation (b).
        exchange (bool): Whether ``h`` enters the block's first conv. False
            is the paper's ablation (c), RLA without information exchange.
        rla_dilation (tuple[int, int]): The dilation of ``h``'s grid before
            and after the block: ``(1, 2)`` in the first block of a stage
            dilated by 2 instead of strided, which averages ``h`` 2x2 at
            every position where a strided block pools it (and dilates an
            own recurrent conv by 2). Defaults to ``(1, 1)``.
        with_cp (bool): Use gradient checkpointing for the block.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activation.
        init_cfg (dict, optional): Initialization config.
    """

    expansion = 1
    # Whether the activation follows the residual sum (False in
    # pre-activation blocks, whose sum is the block output).
    act_after_sum = True

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 rla_cell: Optional[RLACell] = None,
                 with_rla_update: bool = True,
                 se_ratio: Optional[int] = None,
                 eca_kernel_size: Optional[int] = None,
                 rla_source: str = 'output',
                 update_position: str = 'before',
                 share_rla_convs: bool = True,
                 exchange: bool = True,
                 rla_dilation: Tuple[int, int] = (1, 1),
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        before, after = rla_dilation
        # Entering a dilated stage, h is averaged densely (factor, spacing)
        # where a strided stage would pool it.
        self.hidden_pool = (after // before, before)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.rla_channel = rla_channel
        # Channels of h in the first conv's input.
        self.hidden_channels = rla_channel if exchange else 0
        self.stride = stride
        self.rla_source = rla_source
        self.update_position = update_position
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        self.se = SELayer(
            out_channels, ratio=se_ratio, bias=False) if se_ratio else None
        self.eca = ECALayer(out_channels,
                            eca_kernel_size) if eca_kernel_size else None
        self.rla_cell = rla_cell or RLACell(
            rla_channel, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        # The cell's per-block module (unshared), e.g. its norm.
        self.rla_norm = self.rla_cell.build_own() if with_rla_update else None
        own_convs = with_rla_update and not share_rla_convs
        self.rla_out_conv = build_update_conv(
            conv_cfg, out_channels, rla_channel) if own_convs else None
        self.rla_recurrent_conv = self.rla_cell.build_shared(after) \
            if own_convs else None

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def zero_init_layer(self) -> nn.Module:
        """The layer that ``zero_init_residual`` zeroes, so that the block
        starts as its shortcut: the branch's last norm."""
        return self.last_norm

    def _cat_hidden(self, x: torch.Tensor, state: Optional[State]) -> \
            torch.Tensor:
        """``cat(x, h)``, the input of the branch's first conv (``h`` of
        the zero state: zeros); ``x`` alone without exchange."""
        if not self.hidden_channels:
            return x
        h = self.rla_cell.hidden(state)
        if h is None:
            h = x.new_zeros(x.shape[0], self.rla_channel, *x.shape[2:])
        return torch.cat([x, h], dim=1)

    def _sum_and_step(
            self, branch: torch.Tensor, identity: torch.Tensor,
            state: Optional[State], out_conv: Optional[nn.Module],
            shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """SE/ECA on the residual branch, the residual sum (activated,
        unless the block is pre-activated) and one RLA step from the
        update conv of ``rla_source``.

        Returns:
            tuple: The block output and the new state (None when this block
            does not update ``h``).
        """
        if self.se is not None:
            branch = self.se(branch)
        if self.eca is not None:
            branch = self.eca(branch)
        out = branch + identity
        if self.act_after_sum:
            out = self.relu(out)
        if self.rla_norm is None:
            return out, None
        source = dict(output=out, residual=branch, shortcut=identity)
        return out, rla_step(self.rla_cell, state,
                             out_conv(source[self.rla_source]), self.stride,
                             self.rla_norm, shared, self.update_position,
                             self.hidden_pool)

    def switch_to_deploy(self) -> None:
        """Fold each eval-mode batch norm of the residual branch and of the
        shortcut into the conv before it (inference only; see
        :func:`~mmrla.models.utils.fold.fold_norms`)."""
        fold_norms(self, self._conv_norm_pairs())
        if isinstance(self.downsample, nn.Sequential) and \
                len(self.downsample) > 1:
            # (an average pool,) the 1x1 conv, its norm
            last = len(self.downsample) - 1
            fold_norms(self.downsample, [(str(last - 1), str(last))])

    def _conv_norm_pairs(self) -> List[Tuple[str, str]]:
        """The (conv, norm) attribute names of the branch, each norm
        right after its conv."""
        return []


class RLABasicBlock(_RLABlock):
    """RLA basic block: two 3x3 convs, the first over ``cat(x, h)``.

    This is the form of the paper's CIFAR RLA-ResNet-110; see
    :class:`_RLABlock` for the shared arguments. As in mmdet's
    ``BasicBlock``, ``dilation`` applies to the first conv, ``style`` has
    no effect (the first conv carries the stride either way), and ``dcn``
    and ``plugins`` are not supported; ``groups`` and ``base_width`` must
    keep their defaults.

    Example:
        >>> import torch
        >>> block = RLABasicBlock(64, 64, rla_channel=32)
        >>> out_conv = torch.nn.Conv2d(64, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 64, 9, 9), torch.zeros(2, 32, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 64, 9, 9]), torch.Size([2, 32, 9, 9])]
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 groups: int = 1,
                 base_width: int = 64,
                 dilation: int = 1,
                 style: str = 'pytorch',
                 dcn: Optional[dict] = None,
                 plugins: Optional[List[dict]] = None,
                 **kwargs) -> None:
        if groups != 1 or base_width != 64:
            raise ValueError(
                'RLABasicBlock supports only groups=1 and base_width=64 '
                f'(got groups={groups}, base_width={base_width}); use depth '
                '50, 101 or 152 for ResNeXt-style blocks.')
        if dcn is not None or plugins:
            raise ValueError(
                'dcn and plugins need bottleneck blocks (as in mmdet\'s '
                'ResNet); use depth 50, 101 or 152, or leave them None.')
        check_style(style)
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        self.dilation = dilation
        self.style = style
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=2)
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels + self.hidden_channels,
            out_channels,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(
            self.conv_cfg,
            out_channels,
            out_channels,
            3,
            padding=1,
            bias=False)
        self.add_module(self.norm2_name, norm2)

    @property
    def last_norm(self) -> nn.Module:
        return self.norm2

    def _conv_norm_pairs(self) -> List[Tuple[str, str]]:
        return [('conv1', self.norm1_name), ('conv2', self.norm2_name)]

    def forward(
            self, x: torch.Tensor, h: Optional[State],
            out_conv: Optional[nn.Module], shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """The block and one RLA step (arguments: see :class:`_RLABlock`)."""

        def _inner_forward(x, h):
            out = self.relu(self.norm1(self.conv1(self._cat_hidden(x, h))))
            out = self.norm2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self._sum_and_step(out, identity, h, out_conv, shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


class RLABottleneck(_RLABlock):
    """RLA bottleneck: 1x1 over ``cat(x, h)``, 3x3, 1x1.

    See :class:`_RLABlock` for the shared arguments. ``style``, ``dilation``,
    ``dcn`` and ``plugins`` mean what they mean in mmdet's ``Bottleneck``;
    they change the block's own convs and insertions only, never the RLA
    path (``h`` in ``conv1``, the update conv, the cell).

    Args:
        groups (int): Groups of the 3x3 conv (ResNeXt cardinality).
        base_width (int): Width per group; the middle width is
            ``int(planes * base_width / 64) * groups`` with
            ``planes = out_channels // 4``, as in torchvision.
        dilation (int): Dilation (and padding) of the 3x3 conv.
        style (str): ``'pytorch'``: the stride sits in the 3x3 conv;
            ``'caffe'``: in the first 1x1 conv.
        dcn (dict, optional): Conv config of the 3x3 conv, e.g.
            ``dict(type='DCNv2', deform_groups=1)`` (mmcv's deformable
            convs); ``fallback_on_stride=True`` keeps a plain 3x3 conv in a
            strided block. Needs ``conv_cfg=None``.
        plugins (list[dict], optional): mmcv plugin layers, each
            ``dict(cfg=..., position=...)`` with position
            ``'after_conv1'``, ``'after_conv2'`` or ``'after_conv3'`` (after
            that conv's norm and activation; ``after_conv3`` before SE/ECA
            and the residual sum), e.g. ``ContextBlock``,
            ``GeneralizedAttention`` or ``NonLocal2d``.

    Example:
        >>> import torch
        >>> downsample = torch.nn.Conv2d(64, 256, 1, bias=False)
        >>> block = RLABottleneck(64, 256, rla_channel=32,
        ...                       downsample=downsample)
        >>> out_conv = torch.nn.Conv2d(256, 32, 1, bias=False)
        >>> rec_conv = torch.nn.Conv2d(32, 32, 3, padding=1, bias=False)
        >>> x, h = torch.rand(2, 64, 9, 9), torch.zeros(2, 32, 9, 9)
        >>> [t.shape for t in block(x, h, out_conv, rec_conv)]
        [torch.Size([2, 256, 9, 9]), torch.Size([2, 32, 9, 9])]
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 rla_channel: int,
                 stride: int = 1,
                 groups: int = 1,
                 base_width: int = 64,
                 dilation: int = 1,
                 style: str = 'pytorch',
                 dcn: Optional[dict] = None,
                 plugins: Optional[List[dict]] = None,
                 **kwargs) -> None:
        check_style(style)
        super().__init__(in_channels, out_channels, rla_channel, stride,
                         **kwargs)
        planes = out_channels // self.expansion
        mid_channels = int(planes * (base_width / 64.)) * groups
        self.mid_channels = mid_channels
        self.dilation = dilation
        self.style = style
        # mmdet's styles: where a strided block strides.
        conv1_stride, conv2_stride = (1, stride) if style == 'pytorch' \
            else (stride, 1)
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, mid_channels, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(
            self.norm_cfg, mid_channels, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(
            self.norm_cfg, out_channels, postfix=3)
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels + self.hidden_channels,
            mid_channels,
            1,
            stride=conv1_stride,
            bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(
            self._conv2_cfg(dcn, conv2_stride),
            mid_channels,
            mid_channels,
            3,
            stride=conv2_stride,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            bias=False)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(
            self.conv_cfg, mid_channels, out_channels, 1, bias=False)
        self.add_module(self.norm3_name, norm3)
        names = build_block_plugins(
            self, plugins,
            dict(
                after_conv1=mid_channels,
                after_conv2=mid_channels,
                after_conv3=out_channels))
        self.after_conv1_plugin_names = names['after_conv1']
        self.after_conv2_plugin_names = names['after_conv2']
        self.after_conv3_plugin_names = names['after_conv3']

    def init_weights(self) -> None:
        super().init_weights()
        # A deformable conv starts as a plain conv, with zero offsets (as
        # mmcv builds it); the backbone's Kaiming init reaches its offset
        # conv first. DCNv2 resets its own (its init_weights).
        if hasattr(self.conv2, 'init_offset'):
            self.conv2.init_offset()

    def forward_plugin(self, x: torch.Tensor,
                       plugin_names: List[str]) -> torch.Tensor:
        """``x`` through the named plugin layers, in order."""
        for name in plugin_names:
            x = getattr(self, name)(x)
        return x

    def _conv2_cfg(self, dcn: Optional[dict], stride: int) -> Optional[dict]:
        """The conv config of the 3x3 conv: ``dcn`` (a deformable conv) or
        the block's ``conv_cfg``."""
        if dcn is None:
            return self.conv_cfg
        if not isinstance(dcn, dict) or 'type' not in dcn:
            raise ValueError(
                f"dcn must be a conv config dict such as dict(type='DCNv2', "
                f'deform_groups=1), or None; got {dcn!r}.')
        if self.conv_cfg is not None:
            raise ValueError(
                f'dcn replaces the 3x3 conv of conv_cfg={self.conv_cfg!r}; '
                'use one of them (conv_cfg=None with dcn, as in mmdet).')
        dcn = dict(dcn)
        if dcn.pop('fallback_on_stride', False) and stride > 1:
            return self.conv_cfg
        import mmcv.ops  # noqa: F401 (registers DCN, DCNv2)
        return dcn

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    @property
    def last_norm(self) -> nn.Module:
        return self.norm3

    def _conv_norm_pairs(self) -> List[Tuple[str, str]]:
        return [('conv1', self.norm1_name), ('conv2', self.norm2_name),
                ('conv3', self.norm3_name)]

    def forward(
            self, x: torch.Tensor, h: Optional[State],
            out_conv: Optional[nn.Module], shared: Optional[nn.Module]
    ) -> Tuple[torch.Tensor, Optional[State]]:
        """The block and one RLA step (arguments: see :class:`_RLABlock`):
        1x1 over ``cat(x, h)``, 3x3, 1x1, each with its norm and the
        plugins after it (mmdet's ``after_conv1/2/3``)."""

        def _inner_forward(x, h):
            out = self.relu(self.norm1(self.conv1(self._cat_hidden(x, h))))
            out = self.forward_plugin(out, self.after_conv1_plugin_names)
            out = self.relu(self.norm2(self.conv2(out)))
            out = self.forward_plugin(out, self.after_conv2_plugin_names)
            out = self.norm3(self.conv3(out))
            out = self.forward_plugin(out, self.after_conv3_plugin_names)
            identity = x if self.downsample is None else self.downsample(x)
            return self._sum_and_step(out, identity, h, out_conv, shared)

        return checkpointed(_inner_forward, self.with_cp, x, h)


class _RLABlockBackbone(RLABackbone):
    """What the backbones built of :class:`_RLABlock` stages share.

    Subclasses set ``stage_channels``, ``out_indices``, ``concat_hidden``
    and ``rla_channel``, besides what :class:`RLABackbone` needs.
    """

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature, in ``out_indices`` order."""
        channels = [self.stage_channels[i] for i in self.out_indices]
        if self.concat_hidden:
            channels[-1] += self.rla_channel
        return tuple(channels)

    def _build_shared_rla_convs(
            self,
            conv_cfg: Optional[dict],
            dilations: Optional[Sequence[int]] = None) -> None:
        """Build the modules the blocks of each stage share:
        ``rla_out_convs`` (a 1x1 conv C -> k per stage) and
        ``rla_recurrent_convs`` (the cell's shared module per stage, dilated
        by ``dilations``, one per stage); both None when the blocks own them
        (``share_rla_convs=False``)."""
        self.rla_out_convs = self.rla_recurrent_convs = None
        if self.share_rla_convs:
            self.rla_out_convs = nn.ModuleList(
                build_update_conv(conv_cfg, c, self.rla_channel)
                for c in self.stage_channels)
            dilations = dilations or (1, ) * len(self.stage_channels)
            self.rla_recurrent_convs = nn.ModuleList(
                self.rla_cell.build_shared(d)
                for d in dilations[:len(self.stage_channels)])

    def _block_rla_modules(
            self, i: int,
            j: int) -> Tuple[Optional[nn.Module], Optional[nn.Module]]:
        """The update conv and the cell's shared module of block ``j`` of
        stage ``i`` (0-based): the stage's, or the block's own
        (``share_rla_convs=False``)."""
        if not self.share_rla_convs:
            block = getattr(self, f'layer{i + 1}')[j]
            return block.rla_out_conv, block.rla_recurrent_conv
        return self.rla_out_convs[i], self.rla_recurrent_convs[i]

    def _head_modules(self) -> List[Optional[nn.Module]]:
        return [self.rla_out_norm]


@MODELS.register_module()
class RLAResNet(_RLABlockBackbone):
    """RLA-ResNet backbone (`Recurrence along Depth
    <https://arxiv.org/abs/2110.11852>`_, NeurIPS 2021).

    Registered in mmengine's root ``MODELS`` registry, so both mmpretrain and
    mmdet configs can build it after ``custom_imports=['mmrla.models']``.
    It takes every argument of mmdet's and mmpretrain's ``ResNet`` with the
    same meaning, so ``type='ResNet'`` -> ``type='RLAResNet'`` is the whole
    change in their configs (docs/detection.md).

    Two output modes:

    - classification (``concat_hidden=True``): the output of the last stage
      is ``cat(x, act(norm(h)))`` with ``C + rla_channel`` channels, ready
      for global pooling and a linear classifier on 2048 + k inputs (R50);
    - detection (``concat_hidden=False``): plain stage features (256, 512,
      1024, 2048 channels for R50); ``h`` is dropped, as the paper does at
      the FPN, and its final update, which nothing would consume, is not
      computed, so every parameter gets a gradient and DDP needs no
      ``find_unused_parameters``.

    ``out_indices``, ``concat_hidden`` and ``norm_eval`` left None follow
    the library that builds the model, so that each keeps its own ResNet's
    defaults: in mmdet's registry scope (``default_scope='mmdet'``, set by
    every mmdet config and tool) they are mmdet's, ``(0, 1, 2, 3)``,
    detection mode and ``True`` (:data:`DETECTION_DEFAULTS`); anywhere else
    they are ``(3, )``, classification mode and ``False``
    (:data:`CLASSIFICATION_DEFAULTS`). :attr:`out_channels` lists the
    channels of each returned feature.

    Args:
        depth (int): 18, 34 (basic blocks), 50, 101 or 152 (bottlenecks).
        rla_channel (int): Channels ``k`` of the RLA hidden state.
            Defaults to 32, as in the paper.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int, optional): Stem output channels; None for
            ``base_channels`` (64 by default), as in mmdet.
        base_channels (int): Output channels of the first stage divided by
            the block expansion. Defaults to 64.
        num_stages (int): Number of stages, 1 to 4. Defaults to 4.
        strides (Sequence[int]): Stride of the first block of each stage.
        dilations (Sequence[int]): Dilation of each stage's 3x3 convs. A
            stage with stride 1 and a larger dilation than the stage before
            it (e.g. ``strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)``)
            keeps the resolution; ``h`` keeps it too, is averaged densely
            instead of pooled, and the stage's recurrent conv is dilated
            alike, so that the stage computes the strided network at every
            position (docs/detection.md, "Dilated stages").
        out_indices (Sequence[int], optional): Stages whose features are
            returned (any sequence of ints; negatives count from the end).
            Stages after the last one are not built. None: see above.
        style (str): ``'pytorch'`` (stride in the 3x3 conv, default) or
            ``'caffe'`` (stride in the first 1x1 conv) for bottlenecks.
        deep_stem (bool): Three 3x3 convs instead of the 7x7 stem conv
            (ResNetV1c/V1d). Defaults to False.
        avg_down (bool): Average-pool, then a non-strided 1x1 conv in the
            downsampling shortcuts (ResNetV1d). Defaults to False.
        contract_dilation (bool): Halve the dilation of a dilated stage's
            first block, as mmseg does. Defaults to False.
        concat_hidden (bool, optional): Classification mode (``h`` appended
            to the last returned feature) or detection mode. None: see
            above.
        eca_kernel_sizes (Sequence[int], optional): ECA kernel size of each
            stage, placed after the branch's last norm, e.g. (5, 5, 5, 7) as
            in RLA-ECANet. None for no ECA.
        se_ratio (int, optional): SE squeeze ratio (16 in the authors' code).
            None for no SE.
        groups (int): ResNeXt cardinality of the 3x3 convs. Defaults to 1.
        base_width (int): ResNeXt width per group. Defaults to 64.
        rla_source (str): What feeds each block's 1x1 update conv:
            ``'output'`` (authors' code and weights), ``'residual'``
            (paper's Figure 3) or ``'shortcut'`` (Figure 4 v5/v6); see
            :class:`_RLABlock`.
        update_position (str): ``'before'`` (``h <- cell(h + u)``, default)
            or ``'after'`` (``h <- cell(h) + u``, Figure 4 v2/v4/v6; needs a
            cell that steps without input: RLACell, PostActRLACell).
        cell_cfg (dict, optional): The recurrent unit, built with
            ``channels=rla_channel`` and this backbone's ``conv_cfg`` and
            ``norm_cfg``; None for the paper's ``dict(type='RLACell')``.
            The ablation's units: ``PostActRLACell``, ``ConvLSTMCell``,
            ``ConvGRUCell`` (see :mod:`mmrla.models.utils.rla_cell`).
        share_rla_convs (bool): One 1x1 update conv and one cell module per
            stage, shared by its blocks (True, the paper's recurrence), or
            one per block (False, ablation (b); keys
            ``layer<i>.<j>.rla_out_conv`` / ``.rla_recurrent_conv``).
        exchange (bool): Whether ``h`` enters each block's first conv
            (True) or only the classifier (False, ablation (c); it needs
            ``concat_hidden=True``, since nothing else would read ``h``).
        readout (str): The classification read-out of ``h``:
            ``'norm_act'`` (norm, then ``act_cfg``; released models),
            ``'norm_tanh'`` (the authors' ``rlav1_resnet50``) or ``'none'``
            (``h`` as it is; the post-activated, ConvLSTM and ConvGRU
            ablations). Unused when ``concat_hidden=False``.
        frozen_stages (int): Stages to freeze (eval mode, no gradients);
            0 freezes the stem only, -1 nothing. Defaults to -1.
        norm_eval (bool, optional): Keep norm layers in eval mode while
            training. None: see above.
        conv_cfg (dict, optional): Config of the convolutions.
        norm_cfg (dict): Config of the norms (BN, SyncBN, GN, ...).
        act_cfg (dict): Config of the activations. Defaults to ReLU.
        dcn (dict, optional): Deformable conv config of the bottlenecks' 3x3
            convs in the stages of ``stage_with_dcn``, e.g.
            ``dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)``
            (see :class:`RLABottleneck`).
        stage_with_dcn (Sequence[bool]): Whether each stage uses ``dcn``.
        plugins (list[dict], optional): mmcv plugin layers in the
            bottlenecks, as in mmdet: ``dict(cfg=..., position=...,
            stages=...)`` each, ``stages`` (optional) one flag per stage
            (see :class:`RLABottleneck`).
        with_cp (bool): Gradient checkpointing of every block.
        zero_init_residual (bool): Zero-init the last norm of each residual
            branch (skipped when loading pretrained weights).
        pretrained (str, optional): Deprecated, as in mmdet; a checkpoint
            path becomes ``init_cfg=dict(type='Pretrained', ...)``.
        init_cfg (dict or list[dict], optional): Initialization config;
            None for Kaiming-initialized convs and unit norms.

    Example:
        >>> import torch
        >>> model = RLAResNet(depth=50)
        >>> [o.shape for o in model(torch.rand(1, 3, 225, 225))]
        [torch.Size([1, 2080, 8, 8])]
        >>> model = RLAResNet(depth=50, out_indices=(0, 1, 2, 3),
        ...                   concat_hidden=False)
        >>> model.out_channels
        (256, 512, 1024, 2048)
    """

    arch_settings = {
        18: (RLABasicBlock, (2, 2, 2, 2)),
        34: (RLABasicBlock, (3, 4, 6, 3)),
        50: (RLABottleneck, (3, 4, 6, 3)),
        101: (RLABottleneck, (3, 4, 23, 3)),
        152: (RLABottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 rla_channel: int = 32,
                 in_channels: int = 3,
                 stem_channels: Optional[int] = None,
                 base_channels: int = 64,
                 num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Optional[Sequence[int]] = None,
                 style: str = 'pytorch',
                 deep_stem: bool = False,
                 avg_down: bool = False,
                 contract_dilation: bool = False,
                 concat_hidden: Optional[bool] = None,
                 eca_kernel_sizes: Optional[Sequence[int]] = None,
                 se_ratio: Optional[int] = None,
                 groups: int = 1,
                 base_width: int = 64,
                 rla_source: str = 'output',
                 update_position: str = 'before',
                 cell_cfg: Optional[dict] = None,
                 share_rla_convs: bool = True,
                 exchange: bool = True,
                 readout: str = 'norm_act',
                 frozen_stages: int = -1,
                 norm_eval: Optional[bool] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 dcn: Optional[dict] = None,
                 stage_with_dcn: Sequence[bool] = (False, False, False, False),
                 plugins: Optional[List[dict]] = None,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 pretrained: Optional[str] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=resnet_init_cfg(pretrained, init_cfg))
        defaults = task_defaults()
        out_indices = defaults['out_indices'] \
            if out_indices is None else out_indices
        concat_hidden = defaults['concat_hidden'] \
            if concat_hidden is None else concat_hidden
        norm_eval = defaults['norm_eval'] if norm_eval is None else norm_eval
        stem_channels = base_channels if stem_channels is None \
            else stem_channels
        if depth not in self.arch_settings:
            raise ValueError(
                f'Invalid depth {depth!r} for RLAResNet; choose one of '
                f'{sorted(self.arch_settings)}.')
        if not 1 <= num_stages <= 4:
            raise ValueError(
                f'num_stages must be in 1..4, got {num_stages!r}.')
        for name, values in (('strides', strides), ('dilations', dilations)):
            if len(values) != num_stages:
                raise ValueError(
                    f'{name} needs one entry per stage ({num_stages}), got '
                    f'{tuple(values)}.')
        check_style(style)
        for before, after in zip(dilations, dilations[1:]):
            if after % before:
                raise ValueError(
                    f'Each dilation must be a multiple of the one before (h '
                    f'follows the grid they dilate), got {tuple(dilations)}; '
                    'e.g. (1, 1, 1, 2) or (1, 1, 2, 4).')
        if dcn is not None and len(stage_with_dcn) != num_stages:
            raise ValueError(
                f'stage_with_dcn needs one flag per stage ({num_stages}), '
                f'got {tuple(stage_with_dcn)}.')
        if eca_kernel_sizes is not None and \
                len(eca_kernel_sizes) != num_stages:
            raise ValueError(
                f'eca_kernel_sizes needs one kernel size per stage '
                f'({num_stages}), got {tuple(eca_kernel_sizes)}; RLA-ECANet '
                'uses (5, 5, 5, 7), or pass None for no ECA.')
        all_stages = num_stages
        # Stages after the last output are not built: they would run for
        # nothing and their parameters would get no gradient. Checkpoints
        # with their keys still load (as unexpected keys).
        self._set_common_args(num_stages, rla_channel, in_channels,
                              out_indices, frozen_stages, norm_eval,
                              zero_init_residual)
        num_stages = self.num_stages
        last_stage = num_stages - 1
        if se_ratio is not None and (not isinstance(se_ratio, int)
                                     or isinstance(se_ratio, bool)
                                     or se_ratio <= 0):
            raise ValueError(
                f'se_ratio must be a positive integer or None (no SE), got '
                f'{se_ratio!r}; the authors use 16.')

        self.depth = depth
        self.stem_channels = stem_channels
        self.base_channels = base_channels
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.style = style
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.concat_hidden = concat_hidden
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:self.num_stages]
        self.rla_cell = build_block_cell(cell_cfg, rla_channel, conv_cfg,
                                         norm_cfg, rla_source, update_position,
                                         exchange, concat_hidden)
        self.share_rla_convs = share_rla_convs

        self._make_stem_layer(in_channels, stem_channels, act_cfg)

        self.res_layers = []
        self.stage_channels = []
        block_in = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            stage_out = base_channels * 2**i * self.block.expansion
            res_layer = self.make_res_layer(
                block=self.block,
                num_blocks=num_blocks,
                in_channels=block_in,
                out_channels=stage_out,
                stride=strides[i],
                dilation=dilations[i],
                rla_dilation=(dilations[max(i - 1, 0)], dilations[i]),
                avg_down=avg_down,
                contract_dilation=contract_dilation,
                # Nothing consumes the last update of a detection backbone.
                update_last=concat_hidden or i != last_stage,
                rla_channel=rla_channel,
                rla_cell=self.rla_cell,
                style=style,
                groups=groups,
                base_width=base_width,
                dcn=dcn if dcn is not None and stage_with_dcn[i] else None,
                plugins=stage_plugins(plugins, i, all_stages) or None,
                se_ratio=se_ratio,
                eca_kernel_size=None
                if eca_kernel_sizes is None else eca_kernel_sizes[i],
                rla_source=rla_source,
                update_position=update_position,
                share_rla_convs=share_rla_convs,
                exchange=exchange,
                with_cp=with_cp,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            block_in = stage_out
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, res_layer)
            self.res_layers.append(layer_name)
            self.stage_channels.append(stage_out)
        self._build_shared_rla_convs(conv_cfg, dilations)
        self._build_readout(readout if concat_hidden else None, rla_channel,
                            norm_cfg, act_cfg)
        self._freeze_stages()

    def _make_stem_layer(self, in_channels: int, stem_channels: int,
                         act_cfg: dict) -> None:
        """The 7x7 conv, norm and activation (``conv1``, ``norm1``,
        ``relu``) or, with ``deep_stem``, three 3x3 conv modules
        (``stem``, mmpretrain's layout); then the max pool."""
        if self.deep_stem:
            self.stem = nn.Sequential(*[
                ConvModule(
                    c_in,
                    c_out,
                    kernel_size=3,
                    stride=stride,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=act_cfg,
                    inplace=True)
                for c_in, c_out, stride in ((in_channels, stem_channels // 2,
                                             2), (stem_channels // 2,
                                                  stem_channels // 2, 1),
                                            (stem_channels // 2, stem_channels,
                                             1))
            ])
        else:
            self.conv1 = build_conv_layer(
                self.conv_cfg,
                in_channels,
                stem_channels,
                kernel_size=7,
                stride=2,
                padding=3,
                bias=False)
            self.norm1_name, norm1 = build_norm_layer(
                self.norm_cfg, stem_channels, postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = build_activation_layer(act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def make_res_layer(self,
                       block: type,
                       num_blocks: int,
                       in_channels: int,
                       out_channels: int,
                       stride: int,
                       update_last: bool,
                       conv_cfg: Optional[dict],
                       norm_cfg: dict,
                       dilation: int = 1,
                       rla_dilation: Tuple[int, int] = (1, 1),
                       avg_down: bool = False,
                       contract_dilation: bool = False,
                       **kwargs) -> Sequential:
        """Build one stage (override it to change the blocks of a variant).

        Args:
            block (type): The block class, e.g. :class:`RLABottleneck`.
            num_blocks (int): Blocks in the stage.
            in_channels (int): Input channels of the stage.
            out_channels (int): Output channels of the stage.
            stride (int): Stride of the first block.
            update_last (bool): Whether the last block updates ``h``.
            conv_cfg (dict, optional): Config of the convolutions.
            norm_cfg (dict): Config of the norms.
            dilation (int): Dilation of the blocks' 3x3 convs.
            rla_dilation (tuple[int, int]): The dilations of the stage
                before and of this one (see :class:`_RLABlock`).
            avg_down (bool): Average-pool before a non-strided 1x1 conv in
                the downsampling shortcut (mmdet's ``ResLayer``).
            contract_dilation (bool): Halve the first block's dilation.
            **kwargs: The remaining block arguments.

        Returns:
            Sequential: The blocks (they take ``(x, h)``, so the backbone
            iterates them).
        """
        blocks = []
        for j in range(num_blocks):
            block_stride = stride if j == 0 else 1
            block_dilation = dilation // 2 if j == 0 and contract_dilation \
                and dilation > 1 else dilation
            downsample = None
            if block_stride != 1 or in_channels != out_channels:
                conv_stride = block_stride
                downsample = []
                if avg_down and block_stride != 1:
                    conv_stride = 1
                    downsample.append(
                        nn.AvgPool2d(
                            kernel_size=block_stride,
                            stride=block_stride,
                            ceil_mode=True,
                            count_include_pad=False))
                downsample = nn.Sequential(
                    *downsample,
                    build_conv_layer(
                        conv_cfg,
                        in_channels,
                        out_channels,
                        1,
                        stride=conv_stride,
                        bias=False),
                    build_norm_layer(norm_cfg, out_channels)[1])
            blocks.append(
                block(
                    in_channels,
                    out_channels,
                    stride=block_stride,
                    dilation=block_dilation,
                    rla_dilation=rla_dilation if j == 0 else
                    (dilation, dilation),
                    downsample=downsample,
                    with_rla_update=update_last or j < num_blocks - 1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    **kwargs))
            in_channels = out_channels
        # mmengine's Sequential: its init_weights reaches the blocks'
        # layers that initialize themselves (e.g. DCN offsets), as in mmdet.
        return Sequential(*blocks)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        check_images(x, self.in_channels, type(self).__name__)
        if self.deep_stem:
            x = self.maxpool(self.stem(x))
        else:
            x = self.maxpool(self.relu(self.norm1(self.conv1(x))))
        _, outs, h = self._forward_stages(x)
        if self.concat_hidden:
            outs[-1] = torch.cat([outs[-1], self._readout(h)], dim=1)
        return tuple(outs)

    def switch_to_deploy(self) -> 'RLAResNet':
        """Inference form (see :class:`RLABackbone`): the batch norms of
        the stem and the blocks folded into their convs, and each update
        conv stacked with the next block's ``conv1``
        (:func:`~mmrla.models.backbones.rla_resnet_deploy.stack_update_convs`).

        Returns:
            RLAResNet: This model.
        """
        self.eval()
        if self.deep_stem:
            for conv_module in self.stem:
                fold_norms(conv_module, [('conv', conv_module.norm_name)])
        else:
            fold_norms(self, [('conv1', self.norm1_name)])
        super().switch_to_deploy()
        stack_update_convs(self, RLABottleneck)
        return self

    def _stem_modules(self) -> List[nn.Module]:
        return [self.stem] if self.deep_stem else [self.conv1, self.norm1]
