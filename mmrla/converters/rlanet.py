"""Key mapping from the authors' RLANet checkpoints to mmrla models.

The official ImageNet checkpoints (github.com/fangyanwen1106/RLANet) store
``{'state_dict', 'epoch', 'arch', 'best_acc1', 'optimizer'}`` with keys
prefixed by ``module.``. :func:`convert_rlanet_state_dict` maps their state
dict onto an mmpretrain ``ImageClassifier`` (``backbone.*``, ``head.fc.*``)
built with :class:`mmrla.models.RLAResNet` or
:class:`mmrla.models.RLAMobileNetV2`. Checkpoints of the authors' ablation
models (``configs/ablations/``) convert too; their layouts are in
:mod:`mmrla.converters.ablations`.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Tuple

import torch

from .ablations import ablation_rules, detect_ablation_layout

# Keys that identify each official family; their absence is reported.
RESNET_SIGNATURE = ('conv1.weight', 'bn1.weight', 'stages.0.0.conv1.weight',
                    'stage_bns.0.0.weight', 'conv_outs.0.weight',
                    'recurrent_convs.0.weight')
MOBILENETV2_SIGNATURE = ('conv1.0.weight', 'stages.0.0.conv.0.0.weight',
                         'stage_bns.0.0.weight', 'conv_outs.0.weight',
                         'recurrent_dsconvs.0.weight', 'conv2.0.weight')

Rule = Tuple[str, Callable[[re.Match], str]]


def _stage(m: re.Match, group: int = 1) -> int:
    return int(m.group(group)) + 1


# SE layers: the authors' bias-free Linear layers become 1x1 convs.
_RESNET_RULES: List[Rule] = [
    (r'stages\.(\d+)\.(\d+)\.se\.fc\.0\.weight',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.se.conv1.conv.weight'),
    (r'stages\.(\d+)\.(\d+)\.se\.fc\.2\.weight',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.se.conv2.conv.weight'),
    (r'stages\.(\d+)\.(\d+)\.((?:conv|bn)[123]\.\w+|downsample\.[01]\.\w+'
     r'|eca\.conv\.weight)', lambda m: f'backbone.layer{_stage(m)}.{m[2]}.'
     f'{m[3]}'),
    (r'stage_bns\.(\d+)\.(\d+)\.(\w+)',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.rla_norm.{m[3]}'),
    (r'conv_outs\.(\d+)\.weight',
     lambda m: f'backbone.rla_out_convs.{m[1]}.weight'),
    (r'recurrent_convs\.(\d+)\.weight',
     lambda m: f'backbone.rla_recurrent_convs.{m[1]}.weight'),
    (r'(conv1\.weight|bn1\.\w+)', lambda m: f'backbone.{m[1]}'),
    (r'bn2\.(\w+)', lambda m: f'backbone.rla_out_norm.{m[1]}'),
    (r'fc\.(weight|bias)', lambda m: f'head.fc.{m[1]}'),
]

_MOBILENETV2_RULES: List[Rule] = [
    # Stem and last conv are ConvBNReLU sequentials (conv, bn, relu6);
    # mmcv's ConvModule names them ``conv`` and ``bn``.
    (r'(conv1|conv2)\.0\.weight', lambda m: f'backbone.{m[1]}.conv.weight'),
    (r'(conv1|conv2)\.1\.(\w+)', lambda m: f'backbone.{m[1]}.bn.{m[2]}'),
    (r'stages\.(\d+)\.(\d+)\.conv1x1\.0\.weight',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.expand_conv.conv.weight'),
    (r'stages\.(\d+)\.(\d+)\.conv1x1\.1\.(\w+)',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.expand_conv.bn.{m[3]}'),
    (r'stages\.(\d+)\.(\d+)\.conv\.0\.0\.weight',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.depthwise_conv.conv.weight'),
    (r'stages\.(\d+)\.(\d+)\.conv\.0\.1\.(\w+)',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.depthwise_conv.bn.{m[3]}'),
    (r'stages\.(\d+)\.(\d+)\.conv\.1\.weight',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.linear_conv.conv.weight'),
    (r'stages\.(\d+)\.(\d+)\.conv\.2\.(\w+)',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.linear_conv.bn.{m[3]}'),
    (r'stages\.(\d+)\.(\d+)\.conv\.3\.conv\.weight',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.eca.conv.weight'),
    (r'stage_bns\.(\d+)\.(\d+)\.(\w+)',
     lambda m: f'backbone.layer{_stage(m)}.{m[2]}.rla_norm.{m[3]}'),
    (r'conv_outs\.(\d+)\.weight',
     lambda m: f'backbone.rla_out_convs.{m[1]}.weight'),
    # The released model holds ONE depthwise conv object five times (one
    # entry per resolution stage); RLAMobileNetV2 (share_recurrent_conv=True)
    # stores it once. The copies must be equal, see the check below.
    (r'recurrent_dsconvs\.(\d+)\.weight',
     lambda m: 'backbone.rla_recurrent_convs.0.weight'),
    (r'bn2\.(\w+)', lambda m: f'backbone.rla_out_norm.{m[1]}'),
    (r'classifier\.1\.(weight|bias)', lambda m: f'head.fc.{m[1]}'),
]


def detect_rlanet_family(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Tell which official RLANet family a (prefix-free) state dict is.

    Returns:
        str: ``'resnet'`` or ``'mobilenetv2'``.

    Raises:
        ValueError: If the keys match neither family; the message lists the
            keys that are missing.
    """
    missing = {}
    for family, signature in (('resnet', RESNET_SIGNATURE),
                              ('mobilenetv2', MOBILENETV2_SIGNATURE)):
        missing[family] = [k for k in signature if k not in state_dict]
        if not missing[family]:
            return family
    if any(k.startswith('backbone.') for k in state_dict):
        raise ValueError('This checkpoint already has mmrla/mmpretrain keys '
                         "('backbone.*'); it needs no conversion.")
    closest = min(missing, key=lambda f: len(missing[f]))
    raise ValueError(
        'Not an official RLANet checkpoint: the state dict lacks '
        f'{missing[closest]} (expected for RLANet {closest}). Pass a '
        'checkpoint released at github.com/fangyanwen1106/RLANet, e.g. '
        'resnet50_rla_2283.pth.tar.')


def strip_module_prefix(
        state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix of DataParallel/DDP checkpoints."""
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())


def convert_rlanet_state_dict(
        state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official RLANet state dict to mmrla ``ImageClassifier`` keys.

    A pure function: the input is not modified, tensors are shared except
    the SE weights, which are reshaped from Linear to 1x1 conv form. The
    ``module.`` prefix of DataParallel/DDP checkpoints is removed.

    Args:
        state_dict (Mapping[str, Tensor]): The checkpoint's ``state_dict``.

    Returns:
        OrderedDict[str, Tensor]: ``backbone.*`` and ``head.fc.*`` entries.

    Raises:
        ValueError: If the input is not an RLANet state dict, holds a key
            this mapping does not know (rather than dropping it silently),
            or has MobileNetV2 ``recurrent_dsconvs`` copies that differ
            (the released model shares one conv, which mmrla stores once).

    Example:
        >>> import torch
        >>> sd = {'module.conv1.weight': torch.zeros(64, 3, 7, 7)}
        >>> convert_rlanet_state_dict(sd)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: Not an official RLANet checkpoint: ...
    """
    plain = strip_module_prefix(state_dict)
    # The ablations' layouts lack some keys of the released signature.
    ablation = detect_ablation_layout(plain)
    family = 'resnet' if ablation else detect_rlanet_family(plain)
    rules = ablation_rules(ablation) + _RESNET_RULES \
        if family == 'resnet' else _MOBILENETV2_RULES
    converted = OrderedDict()
    for key, value in plain.items():
        for pattern, target in rules:
            match = re.fullmatch(pattern, key)
            if match:
                new_key = target(match)
                if '.se.conv' in new_key and value.dim() == 2:
                    value = value.reshape(*value.shape, 1, 1)
                if new_key in converted:
                    # Several entries of one shared module: keep one copy.
                    if not torch.equal(converted[new_key], value):
                        raise ValueError(
                            f'{key!r} should be a copy of the recurrent conv '
                            'shared by all stages of the released RLANet '
                            f'{family}, but its values differ; this is not a '
                            'checkpoint of the released architecture.')
                else:
                    converted[new_key] = value
                break
        else:
            raise ValueError(
                f'Unknown key {key!r} in an RLANet {family} checkpoint; '
                'it is not part of the released architectures, so the '
                'converter refuses to drop it silently.')
    return converted
