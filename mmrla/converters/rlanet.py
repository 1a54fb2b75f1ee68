"""Key mapping from the authors' released RLANet checkpoints to mmrla models.

The authors (github.com/fangyanwen1106/RLANet) released two kinds of files:

- ImageNet classifiers: ``{'state_dict', 'epoch', 'arch', 'best_acc1',
  'optimizer'}`` with keys prefixed by ``module.`` (DataParallel), mapped
  onto an mmpretrain ``ImageClassifier`` (``backbone.*``, ``head.fc.*``)
  built with :class:`mmrla.models.RLAResNet` or
  :class:`mmrla.models.RLAMobileNetV2`;
- COCO detectors, mmdet 2.x checkpoints of their ``RLA_ResNet`` mmdet
  backbone (``mmdetection/resnet_rla.py``): ``backbone.*`` in the layout of
  their ImageNet ResNet without ``bn2``/``fc``, beside mmdet's ``neck.*``,
  ``rpn_head.*``, ``roi_head.*`` or ``bbox_head.*``. Their backbone keys are
  mapped onto ``RLAResNet`` in detection mode; mmdet 3.x names the FPN,
  RPN, RoI (box and mask) and RetinaNet head parameters as mmdet 2.x did, so
  those are kept unchanged (each is matched against the known names, and
  anything else is refused).

:func:`convert_rlanet` does the mapping, :func:`detect_rlanet_layout` tells
the kinds apart and :func:`find_rlanet_roots` spots the authors' layout in
any state dict (for the loaders' guard, see :mod:`mmrla.converters.released`).
Checkpoints of the authors' ablation models (``configs/ablations/``) convert
too; their layouts are in :mod:`mmrla.converters.ablations`.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Tuple

import torch

from .ablations import ablation_rules, detect_ablation_layout

# Keys that identify each official family; their absence is reported.
RESNET_SIGNATURE = ('conv1.weight', 'bn1.weight', 'stages.0.0.conv1.weight',
                    'stage_bns.0.0.weight', 'conv_outs.0.weight',
                    'recurrent_convs.0.weight')
MOBILENETV2_SIGNATURE = ('conv1.0.weight', 'stages.0.0.conv.0.0.weight',
                         'stage_bns.0.0.weight', 'conv_outs.0.weight',
                         'recurrent_dsconvs.0.weight', 'conv2.0.weight')
SIGNATURES = (('resnet', RESNET_SIGNATURE), ('mobilenetv2',
                                             MOBILENETV2_SIGNATURE))
# Where each kind of released file keeps the backbone (after ``module.``).
TASK_PREFIXES = (('classification', ''), ('detection', 'backbone.'))

Rule = Tuple[str, Callable[[re.Match], str]]


def _stage(m: re.Match, group: int = 1) -> int:
    return int(m.group(group)) + 1


# SE layers: the authors' bias-free Linear layers become 1x1 convs.
_RESNET_BACKBONE_RULES: List[Rule] = [
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
]
# The classification part, absent from the detection backbone.
_RESNET_RULES: List[Rule] = _RESNET_BACKBONE_RULES + [
    (r'bn2\.(\w+)', lambda m: f'backbone.rla_out_norm.{m[1]}'),
    (r'fc\.(weight|bias)', lambda m: f'head.fc.{m[1]}'),
]

# The neck and head parameters of the released detectors (FPN with
# Faster/Mask R-CNN or RetinaNet), as mmdet 2.x names them. mmdet 3.x builds
# the same modules under the same names (FPN's ConvModules, RPNHead's
# rpn_conv/rpn_cls/rpn_reg, Shared2FCBBoxHead's shared_fcs/fc_cls/fc_reg,
# FCNMaskHead's convs/upsample/conv_logits, RetinaHead's cls_convs/
# reg_convs/retina_cls/retina_reg), with the same shapes (81-way softmax
# with background last, 4 x 80 box deltas, sigmoid RPN and RetinaNet
# classifiers), so they are kept as they are;
# tests/test_converters/test_rlanet_detectors.py loads them strictly into
# mmdet 3.3's detectors.
_PARAM = r'\.(?:weight|bias)'
MMDET2_NECK_HEAD_KEYS = tuple(
    re.compile(pattern + _PARAM) for pattern in (
        r'neck\.(?:lateral_convs|fpn_convs)\.\d+\.conv',
        r'rpn_head\.rpn_(?:conv|cls|reg)',
        r'roi_head\.bbox_head\.(?:shared_fcs\.\d+|fc_cls|fc_reg)',
        r'roi_head\.mask_head\.(?:convs\.\d+\.conv|upsample|conv_logits)',
        r'bbox_head\.(?:(?:cls|reg)_convs\.\d+\.conv|retina_cls|retina_reg)',
    ))

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


class RLANetLayout(NamedTuple):
    """What kind of released file a state dict comes from.

    Attributes:
        task (str): ``'classification'`` (ImageNet files) or ``'detection'``
            (mmdet 2.x COCO files, backbone under ``backbone.``).
        family (str): ``'resnet'`` or ``'mobilenetv2'``.
    """
    task: str
    family: str


class RLANetConversion(NamedTuple):
    """The result of :func:`convert_rlanet`.

    Attributes:
        state_dict (OrderedDict[str, Tensor]): mmrla's keys and tensors.
        layout (RLANetLayout): What the source was.
        dropped (list[str]): Source keys left out on purpose because mmrla's
            model has no counterpart: in detectors, the last block's RLA
            norm (``backbone.stage_bns.3.<last>.*``), whose output feeds
            nothing once ``h`` is dropped at the FPN.
    """
    state_dict: Dict[str, torch.Tensor]
    layout: RLANetLayout
    dropped: List[str]


def strip_module_prefix(
        state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix of DataParallel/DDP checkpoints."""
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())


def detect_rlanet_layout(
        state_dict: Mapping[str, torch.Tensor]) -> RLANetLayout:
    """Tell which kind of released RLANet file a state dict is.

    Args:
        state_dict (Mapping[str, Tensor]): Keys without ``module.``.

    Raises:
        ValueError: If the keys are in no released layout; the message says
            whether they are mmrla's own (no conversion needed) or lists the
            signature keys that are missing.

    Example:
        >>> detect_rlanet_layout({'backbone.layer1.0.conv1.weight': None})
        Traceback (most recent call last):
        ...
        ValueError: This checkpoint already has mmrla's keys ...
    """
    for task, prefix in TASK_PREFIXES:
        for family, signature in SIGNATURES:
            if all(prefix + k in state_dict for k in signature):
                return RLANetLayout(task, family)
    if any(
            k.startswith(('backbone.layer', 'backbone.rla_'))
            for k in state_dict):
        raise ValueError(
            "This checkpoint already has mmrla's keys ('backbone.layer1.*', "
            "...), not the authors' layout; it needs no conversion.")
    prefix = 'backbone.' if any(k.startswith('backbone.')
                                for k in state_dict) else ''
    missing = {
        family:
        [prefix + k for k in signature if prefix + k not in state_dict]
        for family, signature in SIGNATURES
    }
    closest = min(missing, key=lambda f: len(missing[f]))
    raise ValueError(
        'Not an official RLANet checkpoint: the state dict lacks '
        f'{missing[closest]} (expected for RLANet {closest}). Pass a '
        'checkpoint released at github.com/fangyanwen1106/RLANet, e.g. '
        'resnet50_rla_2283.pth.tar or faster_rcnn_r50rla_fpn_1x_coco_388.pth.')


# Two keys that every authors' file of a layout has, under one root, and no
# mmrla model has: the released models and every ablation but the two
# below (per-stage norms and update convs), and the unshared ablation
# (``rlaus``: per-block ones). ``resnet50_k`` has no RLA keys at all; see
# :func:`~mmrla.converters.ablations.find_resnet_k_key`.
_ROOT_MARKERS = (('stage_bns.0.0.weight', 'conv_outs.0.weight'),
                 ('stages.0.0.conv_out.weight', 'stages.0.0.bn_rla.weight'))


def find_rlanet_markers(keys: Iterable[str]) -> Dict[str, str]:
    """A key of the authors' RLANet layout under each root where ``keys``
    hold it (see :func:`find_rlanet_roots`).

    Example:
        >>> find_rlanet_markers(['module.stage_bns.0.0.weight',
        ...                      'module.conv_outs.0.weight'])
        {'module.': 'module.stage_bns.0.0.weight'}
    """
    keys = set(keys)
    found = {}
    for first, second in _ROOT_MARKERS:
        for key in keys:
            if not key.endswith(first):
                continue
            root = key[:-len(first)]
            # 'xstage_bns.0.0.weight' is another module's key, not a root.
            if (not root or root.endswith('.')) and root + second in keys:
                found.setdefault(root, key)
    return found


def find_rlanet_roots(keys: Iterable[str]) -> List[str]:
    """Prefixes under which ``keys`` hold the authors' RLANet layout.

    Args:
        keys (Iterable[str]): State dict keys, with any prefixes.

    Returns:
        list[str]: The roots, e.g. ``['']`` for an ImageNet file after
        mmengine removed ``module.``, ``['backbone.']`` for a detector;
        empty for mmrla's own (converted) keys.

    Example:
        >>> find_rlanet_roots(['module.stage_bns.0.0.weight', 'fc.weight',
        ...                    'module.conv_outs.0.weight'])
        ['module.']
        >>> find_rlanet_roots(['stages.0.0.conv_out.weight',
        ...                    'stages.0.0.bn_rla.weight'])  # unshared
        ['']
        >>> find_rlanet_roots(['backbone.layer1.0.rla_norm.weight'])
        []
    """
    return sorted(find_rlanet_markers(keys))


def _last_rla_norm(state_dict: Mapping[str, torch.Tensor],
                   prefix: str) -> List[str]:
    """Keys of the last block's RLA norm (``stage_bns.<last>.<last>``)."""
    blocks = set()
    for key in state_dict:
        match = re.fullmatch(
                re.escape(prefix) + r'stage_bns\.(\d+)\.(\d+)\.\w+', key)
        if match:
            blocks.add((int(match[1]), int(match[2])))
    stage, block = max(blocks)
    last = f'{prefix}stage_bns.{stage}.{block}.'
    return [k for k in state_dict if k.startswith(last)]


def _map_key(key: str, rules: List[Rule]) -> str:
    for pattern, target in rules:
        match = re.fullmatch(pattern, key)
        if match:
            return target(match)
    return ''


def convert_rlanet(state_dict: Mapping[str, torch.Tensor]) -> RLANetConversion:
    """Map a released RLANet state dict (ImageNet or COCO) to mmrla's keys.

    A pure function: the input is not modified, tensors are shared except
    the SE weights, which are reshaped from Linear to 1x1 conv form. The
    ``module.`` prefix of DataParallel/DDP checkpoints is removed.

    - ImageNet files become an mmpretrain ``ImageClassifier`` state dict
      (``backbone.*``, ``head.fc.*``) that loads strictly into the
      classification configs.
    - COCO files (mmdet 2.x) keep their neck and head tensors and get
      ``RLAResNet`` detection-mode backbone keys; the result loads strictly
      into ``configs/{faster_rcnn,mask_rcnn,retinanet}_r*rla*_fpn_1x_coco.py``.
      The last block's RLA norm is left out and listed in ``dropped``.

    Args:
        state_dict (Mapping[str, Tensor]): The checkpoint's ``state_dict``.

    Returns:
        RLANetConversion: The converted state dict, the source layout and
        the keys dropped on purpose.

    Raises:
        ValueError: If the input is not a released RLANet state dict, holds
            a key this mapping does not know (rather than dropping it
            silently), or has MobileNetV2 ``recurrent_dsconvs`` copies that
            differ (the released model shares one conv, which mmrla stores
            once).

    Example:
        >>> import torch
        >>> sd = {'module.conv1.weight': torch.zeros(64, 3, 7, 7)}
        >>> convert_rlanet(sd)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: Not an official RLANet checkpoint: ...
    """
    plain = strip_module_prefix(state_dict)
    # The ablations' layouts (configs/ablations/) lack some keys of the
    # released signature; they are ImageNet ResNets.
    ablation = detect_ablation_layout(plain)
    layout = RLANetLayout('classification', 'resnet') if ablation else \
        detect_rlanet_layout(plain)
    family = layout.family
    detection = layout.task == 'detection'
    if detection and family != 'resnet':
        raise ValueError(
            f'This is a detector with an RLANet {family} backbone in the '
            "authors' layout; the authors released RLA-ResNet detectors "
            'only and mmrla has no detection config for this backbone.')
    if detection:
        prefix, rules = 'backbone.', _RESNET_BACKBONE_RULES
        dropped = _last_rla_norm(plain, prefix)
    else:
        prefix = ''
        rules = ablation_rules(ablation) + _RESNET_RULES \
            if family == 'resnet' else _MOBILENETV2_RULES
        dropped = []
    what = f'an RLANet {family} ' + ('detector' if detection else
                                     'ImageNet') + ' checkpoint'
    converted = OrderedDict()
    for key, value in plain.items():
        if key in dropped:
            continue
        if not key.startswith(prefix):
            # A detector's neck or head: kept if it is a known one.
            if not any(p.fullmatch(key) for p in MMDET2_NECK_HEAD_KEYS):
                raise ValueError(
                    f'Unknown key {key!r} in {what}; the released detectors '
                    'have an FPN neck and Faster R-CNN, Mask R-CNN or '
                    'RetinaNet heads only, so the converter refuses to keep '
                    'or drop it silently.')
            converted[key] = value
            continue
        new_key = _map_key(key[len(prefix):], rules)
        if not new_key:
            raise ValueError(
                f'Unknown key {key!r} in {what}; it is not part of the '
                'released architectures, so the converter refuses to drop '
                'it silently.')
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
    return RLANetConversion(converted, layout, dropped)


def convert_rlanet_state_dict(
        state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The state dict of :func:`convert_rlanet` alone.

    Example:
        >>> import torch
        >>> sd = {f'module.{k}': torch.zeros(1) for k in RESNET_SIGNATURE}
        >>> for key in convert_rlanet_state_dict(sd):
        ...     print(key)
        backbone.conv1.weight
        backbone.bn1.weight
        backbone.layer1.0.conv1.weight
        backbone.layer1.0.rla_norm.weight
        backbone.rla_out_convs.0.weight
        backbone.rla_recurrent_convs.0.weight
    """
    return convert_rlanet(state_dict).state_dict


def convert_rlanet_meta(checkpoint: Mapping, layout: RLANetLayout) -> dict:
    """The ``meta`` of a converted released checkpoint.

    ImageNet files keep the authors' ``arch``, ``epoch`` and ``best_acc1``.
    Detector files get ``dataset_meta`` as mmdet 3.x stores it
    (``DetInferencer`` and the visualizer take class names and colours from
    it): mmdet 2.x kept
    the names in ``meta['CLASSES']``; COCO's (all the released detectors')
    become mmdet's ``CocoDataset.METAINFO``, names and palette. ``epoch``
    and the source's ``mmdet_version`` are kept too.

    Args:
        checkpoint (Mapping): The whole source checkpoint.
        layout (RLANetLayout): Its layout, from :func:`detect_rlanet_layout`.

    Returns:
        dict: The new ``meta`` (without ``source``, which the caller knows).
    """
    meta = {}
    if layout.task == 'classification':
        for key in ('arch', 'epoch', 'best_acc1'):
            if key in checkpoint:
                value = checkpoint[key]
                meta[key] = value.item() if torch.is_tensor(value) else value
        return meta
    from mmdet.datasets import CocoDataset
    source = checkpoint.get('meta') or {}
    coco = dict(CocoDataset.METAINFO)
    classes = source.get('CLASSES')
    if classes is None or list(classes) == list(coco['classes']):
        meta['dataset_meta'] = coco
    else:
        meta['dataset_meta'] = dict(classes=tuple(classes))
    if 'epoch' in source:
        meta['epoch'] = source['epoch']
    if 'mmdet_version' in source:
        meta['source_mmdet_version'] = source['mmdet_version']
    return meta
