"""Key layouts of the authors' ablation models (paper, Tables 11 and 15).

The authors' repository (github.com/fangyanwen1106/RLANet, ``models/``) has
one file per ablation; each trains with their ``train.py`` and saves a
checkpoint in the layout of its file. Most share the released RLA-ResNet's
keys; the others differ as follows, so their layout is told from the keys:

==========  =====================================  ========================
layout      authors' functions                     keys that differ
==========  =====================================  ========================
``rla``     ``rla_resnet50``, ``rlav1`` ...        (the released layout)
            ``rlav6_resnet50``
``rlav1p``  ``rlav1p_resnet50``                    no ``bn2``
``rlarh``   ``rlarh_resnet50``                     ``stages.*.conv1`` without
                                                   the k input channels
``rlaus``   ``rlaus_resnet50/101``                 per-block ``conv_out``,
                                                   ``recurrent_conv``,
                                                   ``bn_rla``
``rlalstm`` ``rlalstm_resnet50``                   ``recurrent_convs.i.conv``
``rlagru``  ``rlagru_resnet50``                    ``recurrent_convs.i.gate_
                                                   conv`` ... , no ``bn2``
``resnetk`` ``resnet50_k``                         a torchvision ResNet with
                                                   wider stages
==========  =====================================  ========================

The ``rla`` layout cannot tell v1 ... v6 apart (they differ in the forward
pass only), so their configs are chosen by the authors' function name
(:data:`ABLATION_ARCHS`): the converter's ``--arch`` or a checkpoint's own
``arch`` (saved by the authors' ``train_light.py``, not by ``train.py``).
"""
import re
from typing import Callable, List, Mapping, NamedTuple, Optional, Tuple

import torch

Rule = Tuple[str, Callable[[re.Match], str]]


class Ablation(NamedTuple):
    """One of the authors' ablation models.

    Attributes:
        layout (str): Its key layout (see the module docstring).
        config (str): The mmrla config that builds it.
    """
    layout: str
    config: str


def _cfg(name: str) -> str:
    return f'configs/ablations/{name}_4xb64_in1k.py'


# The authors' ablation models by function name (their train.py's --arch).
ABLATION_ARCHS = {
    **{
        f'rlav{i}_resnet50': Ablation('rla', _cfg(f'r50rla_v{i}'))
        for i in range(1, 7)
    },
    'rlav1p_resnet50': Ablation('rlav1p', _cfg('r50rla_postact')),
    'rlaus_resnet50': Ablation('rlaus', _cfg('r50rla_unshared')),
    'rlaus_resnet101': Ablation('rlaus', _cfg('r101rla_unshared')),
    'rlarh_resnet50': Ablation('rlarh', _cfg('r50rla_noexchange')),
    'rlalstm_resnet50': Ablation('rlalstm', _cfg('r50rla_convlstm')),
    'rlagru_resnet50': Ablation('rlagru', _cfg('r50rla_convgru')),
    'resnet50_k': Ablation('resnetk', _cfg('r50_channel32')),
}


def _block(m: re.Match) -> str:
    return f'backbone.layer{int(m[1]) + 1}.{m[2]}'


# Rules for the keys that differ from the released layout, by layout; the
# released model's rules map the rest.
_GRU_PARAMS = r'(?:gate_conv|output_conv|reset_gate_norm|update_gate_norm' \
    r'|output_norm)\.(?:weight|bias)'
ABLATION_RULES = {
    'rlaus': [
        (r'stages\.(\d+)\.(\d+)\.conv_out\.weight',
         lambda m: f'{_block(m)}.rla_out_conv.weight'),
        (r'stages\.(\d+)\.(\d+)\.recurrent_conv\.weight',
         lambda m: f'{_block(m)}.rla_recurrent_conv.weight'),
        (r'stages\.(\d+)\.(\d+)\.bn_rla\.(\w+)',
         lambda m: f'{_block(m)}.rla_norm.{m[3]}'),
    ],
    # ConvLSTMCell's shared module is the gate conv itself.
    'rlalstm': [(r'recurrent_convs\.(\d+)\.conv\.weight',
                 lambda m: f'backbone.rla_recurrent_convs.{m[1]}.weight')],
    # ConvGRUCell's shared module keeps the authors' names.
    'rlagru': [(rf'recurrent_convs\.(\d+)\.({_GRU_PARAMS})',
                lambda m: f'backbone.rla_recurrent_convs.{m[1]}.{m[2]}')],
    # mmpretrain's ResNet names its parameters as torchvision's.
    'resnetk': [(r'(layer[1-4]\.\d+\.(?:(?:conv|bn)[123]|downsample\.[01])'
                 r'\.\w+)', lambda m: f'backbone.{m[1]}')],
}


def detect_ablation_layout(
        state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The ablation layout of a (``module.``-free) state dict.

    Returns:
        str | None: A layout of :data:`ABLATION_RULES` or ``'rlav1p'``,
        ``'rlarh'``; None for the released layout (also v1 ... v6) and for
        anything that is no authors' ResNet ablation.

    Example:
        >>> import torch
        >>> detect_ablation_layout({'stages.0.0.conv_out.weight': None})
        'rlaus'
        >>> detect_ablation_layout({'conv1.weight': torch.zeros(64, 3, 7, 7),
        ...     'stages.0.0.conv1.weight': torch.zeros(64, 96, 1, 1),
        ...     'stage_bns.0.0.weight': None, 'bn2.weight': None}) is None
        True
    """
    if 'stages.0.0.conv_out.weight' in state_dict:
        return 'rlaus'
    if 'recurrent_convs.0.conv.weight' in state_dict:
        return 'rlalstm'
    if 'recurrent_convs.0.gate_conv.weight' in state_dict:
        return 'rlagru'
    if 'stage_bns.0.0.weight' in state_dict:
        if 'bn2.weight' not in state_dict:
            return 'rlav1p'
        stem = state_dict.get('conv1.weight')
        first = state_dict.get('stages.0.0.conv1.weight')
        # The first block's conv1 sees the stem alone, without h.
        if stem is not None and first is not None and \
                first.shape[1] == stem.shape[0]:
            return 'rlarh'
        return None
    first = state_dict.get('layer1.0.conv1.weight')
    # A plain torchvision ResNet-50 (64 planes) is no RLANet file.
    if first is not None and 'fc.weight' in state_dict and \
            first.shape[0] != 64:
        return 'resnetk'
    return None


def find_ablation(
        state_dict: Mapping[str, torch.Tensor],
        arch: Optional[str] = None) -> Optional[Tuple[str, Ablation]]:
    """Which of the authors' ablation models a (``module.``-free) state
    dict is.

    Args:
        state_dict (Mapping[str, Tensor]): The checkpoint's state dict.
        arch (str, optional): The authors' function name, e.g.
            ``'rlav2_resnet50'``, needed for v1 ... v6 (their keys are the
            released model's). Names of no ablation (e.g. the released
            ``'rla_resnet50'``) are ignored.

    Returns:
        tuple | None: ``(arch, Ablation)``; None for the released layout
        without an ablation ``arch``.

    Raises:
        ValueError: If the keys are not in ``arch``'s layout.

    Example:
        >>> find_ablation({'recurrent_convs.0.conv.weight': None})[0]
        'rlalstm_resnet50'
        >>> find_ablation({}, 'rlalstm_resnet50')
        Traceback (most recent call last):
        ...
        ValueError: The keys are those of the released RLA-ResNet ...
    """
    layout = detect_ablation_layout(state_dict)
    if arch in ABLATION_ARCHS:
        ablation = ABLATION_ARCHS[arch]
        if ablation.layout != (layout or 'rla'):
            found = 'the released RLA-ResNet (and rlav1 ... rlav6)' \
                if layout is None else ', '.join(
                    a for a, b in ABLATION_ARCHS.items()
                    if b.layout == layout)
            raise ValueError(
                f'The keys are those of {found}, not of {arch} (layout '
                f'{ablation.layout!r}); pass the --arch this checkpoint was '
                'trained with.')
        return arch, ablation
    if layout is None:
        return None
    if layout == 'rlaus':  # ResNet-50 or -101: 6 or 23 blocks in stage 3
        deep = 'stages.2.6.conv1.weight' in state_dict
        arch = 'rlaus_resnet101' if deep else 'rlaus_resnet50'
    else:
        arch = next(a for a, b in ABLATION_ARCHS.items() if b.layout == layout)
    return arch, ABLATION_ARCHS[arch]


def ablation_rules(layout: Optional[str]) -> List[Rule]:
    """The key rules an ablation layout adds to the released model's."""
    return ABLATION_RULES.get(layout, [])


def find_resnet_k_key(state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The classifier key of an unconverted ``resnet50_k`` file, if
    ``state_dict`` is one: torchvision's ResNet keys (with or without
    ``module.``) and a classifier over 2048 + 32 channels. It has no RLA
    key, so only the tensors' shapes tell it from a plain ResNet-50.

    Example:
        >>> import torch
        >>> find_resnet_k_key({'module.layer1.0.conv1.weight': None,
        ...                    'module.fc.weight': torch.zeros(10, 2080)})
        'module.fc.weight'
        >>> find_resnet_k_key({'layer1.0.conv1.weight': None,
        ...                    'fc.weight': torch.zeros(10, 2048)}) is None
        True
    """
    for root in ('', 'module.'):
        fc = state_dict.get(root + 'fc.weight')
        if root + 'layer1.0.conv1.weight' in state_dict and \
                isinstance(fc, torch.Tensor) and fc.dim() == 2 and \
                fc.shape[1] == 2048 + 32:
            return root + 'fc.weight'
    return None
