"""What the RLA backbones share: checks, the stage loop, initialization,
the update conv, the classification read-out of ``h``, freezing,
``norm_eval``, the switch to the inference form and renamed arguments."""
import functools
import warnings
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import check_choice, check_out_indices, check_positive_int
from ..utils.rla_cell import State

# The classification read-out of h: norm then the backbone's activation
# (released models), norm then tanh (the authors' ``rlav1_resnet50``
# ablation), or h as it is (the post-activated, ConvLSTM and ConvGRU cells,
# whose state is already squashed).
READOUTS = ('norm_act', 'norm_tanh', 'none')

# mmpretrain ResNet's initialization: He init of the convs, unit norms.
DEFAULT_INIT_CFG = [
    dict(type='Kaiming', layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


def build_update_conv(conv_cfg: Optional[dict], in_channels: int,
                      rla_channel: int) -> nn.Module:
    """The update conv of RLA: a bias-free 1x1 conv from a block's
    ``in_channels`` to the ``rla_channel`` (k) channels of ``h``.

    Example:
        >>> build_update_conv(None, 256, 32)
        Conv2d(256, 32, kernel_size=(1, 1), stride=(1, 1), bias=False)
    """
    return build_conv_layer(conv_cfg, in_channels, rla_channel, 1, bias=False)


def check_frozen_stages(frozen_stages: int, max_frozen: int,
                        meaning: str) -> None:
    """Raise a ValueError unless ``frozen_stages`` is an int in
    ``-1..max_frozen``; ``meaning`` explains the values."""
    if not isinstance(frozen_stages, int) or \
            not -1 <= frozen_stages <= max_frozen:
        raise ValueError(f'frozen_stages must be an integer in '
                         f'-1..{max_frozen} ({meaning}), got '
                         f'{frozen_stages!r}.')


def stages_to_build(out_indices: Union[int, Sequence[int]], num_outputs: int,
                    num_stages: int,
                    valid: str) -> Tuple[Tuple[int, ...], int]:
    """Check ``out_indices`` (see :func:`check_out_indices`) and count the
    stages to build.

    Stages after the last requested one are not built: they would run for
    nothing and their parameters would get no gradient (checkpoints with
    their keys still load, as unexpected keys). An index beyond the stages
    (``num_outputs > num_stages``) is a classification head after all of
    them.

    Returns:
        tuple: The normalized ``out_indices`` and the number of stages to
        build.

    Example:
        >>> stages_to_build((-1, 1), 4, 4, 'stages')
        ((1, 3), 4)
        >>> stages_to_build((1, ), 4, 4, 'stages')
        ((1,), 2)
    """
    out_indices = check_out_indices(out_indices, num_outputs, valid)
    return out_indices, min(max(out_indices) + 1, num_stages)


def renamed_arguments(**renames: str) -> Callable:
    """Decorate an ``__init__`` so that each old keyword (a key of
    ``renames``) is still accepted as its new name, with a one-line warning
    that names the new one, as mmdet does for ``pretrained``.

    Example:
        >>> class Net:
        ...     @renamed_arguments(width_mult='widen_factor')
        ...     def __init__(self, widen_factor=1.):
        ...         self.widen_factor = widen_factor
        >>> import warnings
        >>> with warnings.catch_warnings(record=True):
        ...     Net(width_mult=0.5).widen_factor
        0.5
    """

    def decorate(init: Callable) -> Callable:

        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            cls = type(self).__name__
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise ValueError(
                        f'{cls} got both "{old}" and "{new}"; "{old}" is the '
                        f'old name of "{new}": keep only "{new}".')
                warnings.warn(
                    f'{cls}: "{old}" is deprecated, please use "{new}" '
                    'instead.', FutureWarning)
                kwargs[new] = kwargs.pop(old)
            return init(self, *args, **kwargs)

        return wrapper

    return decorate


def check_images(x, in_channels: int, owner: str) -> None:
    """Raise a ValueError naming ``owner`` unless ``x`` is a batch of images
    of shape (N, in_channels, H, W).

    Example:
        >>> import torch
        >>> check_images(torch.rand(3, 8, 8), 3, 'Net')
        Traceback (most recent call last):
        ...
        ValueError: Net expects images of shape (N, 3, H, W), got (3, 8, 8); batch single images with x.unsqueeze(0) or set in_channels.
    """  # noqa: E501
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or \
            x.shape[1] != in_channels:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
        raise ValueError(
            f'{owner} expects images of shape (N, {in_channels}, H, W), got '
            f'{shape}; batch single images with x.unsqueeze(0) or set '
            'in_channels.')


class StageFreezing:
    """``frozen_stages`` and ``norm_eval`` of a backbone (a mixin before
    ``nn.Module`` in the bases).

    Subclasses set ``frozen_stages``, ``norm_eval`` and ``num_stages`` (the
    stages built) and list the stem (:meth:`_stem_modules`), each stage
    (:meth:`_stage_modules`) and what follows the stages
    (:meth:`_head_modules`). ``frozen_stages`` = -1 freezes nothing, 0 the
    stem, i the stem and the first i stages; the head freezes with the last
    stage, or one index later when ``head_is_a_stage``. ``train()`` keeps
    the frozen modules in eval mode without gradients, and every batch norm
    in eval mode with ``norm_eval``.
    """

    # Whether the classification head is one more index of out_indices and
    # frozen_stages (as conv2 of mmpretrain's MobileNetV2), or part of the
    # last stage.
    head_is_a_stage: bool = False

    def _stem_modules(self) -> List[nn.Module]:
        raise NotImplementedError

    def _stage_modules(self, i: int) -> List[nn.Module]:
        """The modules of stage ``i`` (0-based)."""
        raise NotImplementedError

    def _head_modules(self) -> List[Optional[nn.Module]]:
        """What follows the stages (None entries: not built)."""
        return []

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = list(self._stem_modules())
        for i in range(min(self.frozen_stages, self.num_stages)):
            modules += self._stage_modules(i)
        if self.frozen_stages >= self.num_stages + self.head_is_a_stage:
            modules += [m for m in self._head_modules() if m is not None]
        return modules

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

    Subclasses call :meth:`_set_common_args`, build ``self.rla_cell`` (the
    cell type, see :mod:`mmrla.models.utils.rla_cell`; None for a plain
    baseline built without RLA) and the stages ``layer1``, ``layer2``, ...
    of blocks called as ``block(x, h, update_conv, shared)``, and name in
    :meth:`_block_rla_modules` the modules outside the blocks that each
    block steps with. :meth:`_forward_stages` runs the stages; freezing a
    stage freezes those modules too, a module shared with later stages once
    they are frozen as well. With ``zero_init_residual`` each block's
    ``zero_init_layer`` starts at zero.

    The forwards have one path. :meth:`switch_to_deploy` rewrites a model
    for inference into modules of its own, as mmpretrain's RepVGG does; a
    deployed model refuses ``train()``.
    """

    deploy: bool = False
    zero_init_residual: bool = False

    def _set_common_args(self,
                         num_stages: int,
                         rla_channel: int,
                         in_channels: int,
                         out_indices: Union[int, Sequence[int]],
                         frozen_stages: int,
                         norm_eval: bool,
                         zero_init_residual: bool = False,
                         rla_hint: str = 'the paper uses 32') -> None:
        """Check and keep the arguments every RLA backbone has.

        ``out_indices`` 0..``num_stages - 1`` select stages, and
        ``num_stages`` the classification feature when
        ``head_is_a_stage``. ``self.num_stages`` becomes the number of
        stages built (see :func:`stages_to_build`).
        """
        check_positive_int(rla_channel, 'rla_channel', rla_hint)
        n = num_stages
        if self.head_is_a_stage:
            valid = (f'use 0..{n - 1} for layer1..layer{n} and {n} for the '
                     'classification feature')
            meaning = f'-1 freezes nothing, 0 the stem, {n + 1} everything'
        else:
            valid = (f'use 0..{n - 1} for {n} stages (or negatives from the '
                     'end)')
            meaning = '-1 freezes nothing, 0 the stem only'
        check_frozen_stages(frozen_stages, n + self.head_is_a_stage, meaning)
        self.out_indices, self.num_stages = stages_to_build(
            out_indices, n + self.head_is_a_stage, n, valid)
        self.rla_channel = rla_channel
        self.in_channels = in_channels
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual

    def _block_rla_modules(
            self, i: int,
            j: int) -> Tuple[Optional[nn.Module], Optional[nn.Module]]:
        """The update conv and the cell's shared module that block ``j`` of
        stage ``i`` steps with (None: the block owns it, or has no RLA)."""
        raise NotImplementedError

    def _forward_stages(
        self, x: torch.Tensor
    ) -> Tuple[torch.Tensor, List[torch.Tensor], Optional[State]]:
        """Run the stages from the zero state.

        Returns:
            tuple: The last stage's output, the outputs of the stages in
            ``out_indices`` and the final state.
        """
        h = None  # the zero state; see rla_step
        outs = []
        for i in range(self.num_stages):
            for j, block in enumerate(getattr(self, f'layer{i + 1}')):
                x, h = block(x, h, *self._block_rla_modules(i, j))
            if i in self.out_indices:
                outs.append(x)
        return x, outs, h

    def _rla_modules_of_stage(self, i: int) -> List[nn.Module]:
        return [
            m for j in range(len(getattr(self, f'layer{i + 1}')))
            for m in self._block_rla_modules(i, j) if m is not None
        ]

    def _stage_modules(self, i: int) -> List[nn.Module]:
        """Stage ``i``'s blocks and the RLA modules they step with; a module
        that later stages share freezes with the last of them."""
        later = {
            id(m)
            for k in range(i + 1, self.num_stages)
            for m in self._rla_modules_of_stage(k)
        }
        return [getattr(self, f'layer{i + 1}')] + [
            m for m in self._rla_modules_of_stage(i) if id(m) not in later
        ]

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            super().init_weights()
            # Pretrained weights must not be overwritten by zero init.
            return
        super().init_weights()
        self._init_after_weights()

    def _init_after_weights(self) -> None:
        """Initialization that follows ``init_cfg`` unless weights are
        pretrained: with ``zero_init_residual`` every block starts as its
        shortcut."""
        if self.zero_init_residual:
            for i in range(self.num_stages):
                for block in getattr(self, f'layer{i + 1}'):
                    constant_init(block.zero_init_layer, 0)

    def _build_readout(self, readout: Optional[str], channels: int,
                       norm_cfg: dict, act_cfg: dict) -> None:
        """Build ``rla_out_norm`` and ``rla_out_act`` for ``readout`` (one
        of :data:`READOUTS`; None: no read-out, detection mode)."""
        if readout is not None:
            check_choice(readout, READOUTS, 'readout')
        with_norm = readout in ('norm_act', 'norm_tanh')
        self.rla_out_norm = build_norm_layer(norm_cfg, channels)[1] \
            if with_norm else None
        self.rla_out_act = build_activation_layer(
            act_cfg if readout == 'norm_act' else dict(
                type='Tanh')) if with_norm else None

    def _readout(self, state: State) -> torch.Tensor:
        """``act(norm(h))`` of the state's ``h`` (or ``h`` itself for
        ``readout='none'``), appended to the classification feature."""
        h = self.rla_cell.hidden(state)
        if self.rla_out_norm is not None:
            h = self.rla_out_norm(h)
        return h if self.rla_out_act is None else self.rla_out_act(h)

    def switch_to_deploy(self) -> 'RLABackbone':
        """Switch to the inference form: eval mode, then each submodule's
        own ``switch_to_deploy()`` (e.g. batch norms folded into convs).
        The result computes what the model computed in eval mode; it
        refuses ``train()``.

        Returns:
            RLABackbone: This model.
        """
        self.eval()
        for m in list(self.modules()):
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
