"""Refuse checkpoints that would leave an RLA backbone mostly random.

mmengine's loaders (``load_from``, ``init_cfg=dict(type='Pretrained')``,
mmpretrain's ``get_model(pretrained=...)``, the inferencers) load
non-strictly: a file of another model, such as a torchvision ResNet-50,
loads "successfully" with a warning that lists hundreds of missing keys, and
the model keeps its random weights. The RLA backbones register
:func:`refuse_mostly_missing` (with :func:`refuse_unconverted_checkpoints
<mmrla.converters.refuse_unconverted_checkpoints>`), which stops such a
load with one line saying what the file is.
"""
import os.path as osp
import re
from typing import Iterable, List, Mapping, Optional

import torch.nn as nn


class ForeignCheckpointError(ValueError):
    """A state dict sets less than half of an RLA backbone's weights."""


# The residual blocks of torchvision's (and timm's) ResNets.
_TORCHVISION_LAYER = re.compile(r'^layer([1-4])\.(\d+)\.')


def _resnet_depth(keys: Iterable[str]) -> Optional[int]:
    """The depth of a ResNet from its ``layerS.B.`` keys (3 layers per
    bottleneck block, 2 per basic block, plus the stem conv and the fc)."""
    keys = list(keys)
    blocks = {(m[1], m[2]) for m in map(_TORCHVISION_LAYER.match, keys) if m}
    if not blocks:
        return None
    per_block = 3 if any('.conv3.' in k for k in keys) else 2
    return len(blocks) * per_block + 2


def describe_state_dict(keys: Iterable[str]) -> str:
    """What kind of file a state dict's keys come from, in words.

    Example:
        >>> keys = ['conv1.weight', 'fc.weight'] + [
        ...     f'layer{s}.{b}.conv3.weight'
        ...     for s, n in zip((1, 2, 3, 4), (3, 4, 6, 3)) for b in range(n)]
        >>> describe_state_dict(keys)
        'a torchvision ResNet-50 classification file'
        >>> describe_state_dict(['backbone.layer1.0.conv1.weight',
        ...                      'head.fc.weight'])
        'an mmpretrain or mmdet checkpoint of a plain ResNet (no RLA weights)'
    """
    keys = [k[len('module.'):] if k.startswith('module.') else k for k in keys]
    if not keys:
        return 'a file without weights for this model'
    if 'conv1.weight' in keys and 'fc.weight' in keys:
        depth = _resnet_depth(keys)
        if depth:
            return f'a torchvision ResNet-{depth} classification file'
    if any(k.startswith('backbone.') for k in keys):
        inner = [
            k[len('backbone.'):] for k in keys if k.startswith('backbone.')
        ]
        if not any('rla' in k or 'conv_out' in k for k in inner) and \
                any(_TORCHVISION_LAYER.match(k) for k in inner):
            return ('an mmpretrain or mmdet checkpoint of a plain ResNet '
                    '(no RLA weights)')
        return ('a checkpoint of another model (its backbone keys begin '
                f'{", ".join(repr(k) for k in inner[:2])})')
    shown = ', '.join(repr(k) for k in keys[:3])
    return f'a file of another model (keys {shown}, ...)'


def foreign_message(module: nn.Module, found: int, total: int,
                    keys: List[str]) -> str:
    """The one-line refusal of :func:`refuse_mostly_missing`."""
    return (f'The checkpoint sets only {found} of the {total} weights of '
            f'{type(module).__name__}: it is {describe_state_dict(keys)}, '
            'not a checkpoint of this model, and the backbone would keep '
            'random weights. Load an mmrla checkpoint of this model (your '
            "training's epoch_N.pth, or the authors' released files "
            'converted with tools/model_converters/rlanet_to_mmrla.py, '
            'docs/weights.md), or train without this file.')


def _own_keys(module: nn.Module) -> List[str]:
    return [
        k for k in module.state_dict() if not k.endswith('num_batches_tracked')
    ]


def _refuse_mostly_missing(module: nn.Module, incompatible_keys) -> None:
    own = set(_own_keys(module))
    # The missing keys are named from the loading model's root (e.g.
    # 'backbone.layer1.0.conv1.weight'): match them on their tail.
    missing = set()
    for key in incompatible_keys.missing_keys:
        parts = key.split('.')
        for i in range(len(parts)):
            tail = '.'.join(parts[i:])
            if tail in own:
                missing.add(tail)
                break
    if own and len(missing) * 2 > len(own):
        raise ForeignCheckpointError(
            foreign_message(module,
                            len(own) - len(missing), len(own),
                            list(incompatible_keys.unexpected_keys)))


def _refuse_mostly_mismatched(module: nn.Module, state_dict: Mapping,
                              prefix: str, *args) -> None:
    # A file whose keys fall under this module but mostly do not fit it,
    # by name or by shape: e.g. a torchvision ResNet loaded into the
    # backbone itself (init_cfg without a prefix), whose stem and plain
    # convs fit by name while every conv1 (which also reads h) does not.
    # A load without keys here is left to the check of the missing keys.
    ours = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if ours:
        check_foreign_state_dict(module, ours)


def refuse_mostly_missing(module: nn.Module) -> None:
    """Make loading a state dict that sets less than half of ``module``'s
    weights raise :class:`ForeignCheckpointError`, with mmengine's loaders
    or torch's, strict or not.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Linear(8, 2))
        >>> refuse_mostly_missing(model[0])
        >>> model.load_state_dict({'1.weight': torch.zeros(2, 8),
        ...                        '1.bias': torch.zeros(2)}, strict=False)
        Traceback (most recent call last):
        ...
        mmrla.converters.foreign.ForeignCheckpointError: ...
    """
    module.register_load_state_dict_pre_hook(_refuse_mostly_mismatched)
    module.register_load_state_dict_post_hook(_refuse_mostly_missing)


def check_foreign_state_dict(module: nn.Module,
                             state_dict: Mapping,
                             prefix: str = '') -> None:
    """Raise :class:`ForeignCheckpointError` if ``state_dict`` (keys under
    ``prefix``) sets less than half of ``module``'s weights (by name and
    shape)."""
    expected = module.state_dict()
    own = [k for k in expected if not k.endswith('num_batches_tracked')]
    found = sum(prefix + k in state_dict and (
        not hasattr(state_dict[prefix + k], 'shape')
        or tuple(state_dict[prefix + k].shape) == tuple(expected[k].shape))
                for k in own)
    if own and found * 2 < len(own):
        raise ForeignCheckpointError(
            foreign_message(module, found, len(own), list(state_dict)))


def check_pretrained_prefix(module: nn.Module, init_cfg: dict) -> None:
    """Refuse a local ``Pretrained`` file without keys under the
    ``init_cfg``'s ``prefix`` (e.g. ``'backbone.'``), naming what it is.

    mmengine stops such a file with "backbone. is not in the pretrained
    model" deep in its loader; files with the keys are checked as they load
    (:func:`refuse_mostly_missing`). Files torch cannot read are left to
    mmengine's loader.

    Raises:
        ForeignCheckpointError: If no key of the file has the prefix.
    """
    from .released import read_state_dict
    from .rlanet import strip_module_prefix
    checkpoint, prefix = init_cfg.get('checkpoint'), init_cfg.get('prefix')
    if not (isinstance(checkpoint, str) and isinstance(prefix, str) and prefix
            and '://' not in checkpoint and osp.isfile(checkpoint)):
        return
    try:
        keys = list(strip_module_prefix(read_state_dict(checkpoint)))
    except Exception:
        return
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    if not any(k.startswith(prefix) for k in keys):
        raise ForeignCheckpointError(
            f'{checkpoint} (init_cfg, prefix {prefix!r}): ' +
            foreign_message(module, 0, len(_own_keys(module)), keys))
