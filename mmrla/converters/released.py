"""The authors' released RLANet checkpoints, and how mmrla treats them.

mmrla loads converted files only: an unconverted released file stops every
loader with an error that names the converter command (see docs/weights.md
for why). The loaders are covered as follows:

- models with an RLA backbone refuse the authors' layout in any state dict
  they load (:func:`refuse_unconverted_checkpoints`, registered by the
  backbones): ``tools/test.py``, ``load_from``, ``--resume``, mmdet's
  ``DetInferencer``, mmpretrain's ``get_model`` and inferencers,
  ``init_cfg=dict(type='Pretrained')`` without a prefix;
- :func:`check_pretrained_file` (run by the backbones' ``init_weights`` and
  by ``tools/train.py``) covers ``Pretrained`` with ``prefix='backbone.'``,
  where mmengine would otherwise fail with "backbone. is not in the
  pretrained model" before the model sees a key.
"""
import os.path as osp
from typing import Mapping, NamedTuple, Optional

import torch
import torch.nn as nn

from mmrla.engine.safe_load import (CheckpointLoadError, UnsafeCheckpointError,
                                    load_checkpoint_file)
from .ablations import find_resnet_k_key
from .rlanet import find_rlanet_markers

CONVERTER = 'tools/model_converters/rlanet_to_mmrla.py'


class ReleasedCheckpoint(NamedTuple):
    """One file of the authors' model zoo.

    Attributes:
        filename (str): The authors' name, with the extension their code
            saves (``.pth.tar`` from their ``train.py``, ``.pth`` from
            mmdetection 2.x).
        config (str): The mmrla config it loads into once converted.
        converted (str): Where the configs (ImageNet files: the detection
            configs' ``init_cfg``) and the commands of docs/weights.md
            expect the converted file.
    """
    filename: str
    config: str
    converted: str


def _coco(name: str) -> ReleasedCheckpoint:
    stem = name.rsplit('_', 1)[0]
    return ReleasedCheckpoint(f'{name}.pth', f'configs/{stem}.py',
                              f'checkpoints/{stem}.pth')


# Every file of github.com/fangyanwen1106/RLANet's model zoo (its README's
# "ImageNet" and "COCO 2017" tables), by the authors' name.
RELEASED_CHECKPOINTS = {
    c.filename.split('.')[0]: c
    for c in (
        ReleasedCheckpoint('resnet50_rla_2283.pth.tar',
                           'configs/r50rla_4xb64_in1k.py',
                           'checkpoints/rla_resnet50_in1k.pth'),
        ReleasedCheckpoint('ecanet50_rla_2215.pth.tar',
                           'configs/r50rlaeca_4xb64_in1k.py',
                           'checkpoints/rla_ecaresnet50_in1k.pth'),
        ReleasedCheckpoint('resnet101_rla_2148.pth.tar',
                           'configs/r101rla_4xb64_in1k.py',
                           'checkpoints/rla_resnet101_in1k.pth'),
        ReleasedCheckpoint('ecanet101_rla_2100.pth.tar',
                           'configs/r101rlaeca_4xb64_in1k.py',
                           'checkpoints/rla_ecaresnet101_in1k.pth'),
        ReleasedCheckpoint('dsrla_mobilenetv2_k32_2762.pth.tar',
                           'configs/mobilenetv2rla_2xb48_in1k.py',
                           'checkpoints/rla_mobilenetv2_in1k.pth'),
        ReleasedCheckpoint('dsrla_mobilenetv2_k32_eca_2707.pth.tar',
                           'configs/mobilenetv2rlaeca_2xb48_in1k.py',
                           'checkpoints/rla_ecamobilenetv2_in1k.pth'),
        *(_coco(f'{family}_{backbone}_fpn_1x_coco_{ap}')
          for family, aps in (('faster_rcnn', (388, 398, 412, 421)),
                              ('retinanet', (379, 390, 403, 415)),
                              ('mask_rcnn', (395, 406, 418, 429)))
          for backbone, ap in zip(('r50rla', 'r50rlaeca', 'r101rla',
                                   'r101rlaeca'), aps)),
    )
}


def find_released(filename: str) -> Optional[ReleasedCheckpoint]:
    """The released checkpoint a file is, or converts to, judged by name.

    Example:
        >>> find_released('downloads/retinanet_r50rla_fpn_1x_coco_379.pth')
        ... # doctest: +ELLIPSIS
        ReleasedCheckpoint(filename='retinanet_r50rla_fpn_1x_coco_379.pth',...)
        >>> find_released('checkpoints/rla_resnet50_in1k.pth').filename
        'resnet50_rla_2283.pth.tar'
    """
    name = osp.basename(filename)
    for checkpoint in RELEASED_CHECKPOINTS.values():
        if name.split('.')[0] == checkpoint.filename.split('.')[0] or \
                name == osp.basename(checkpoint.converted):
            return checkpoint
    return None


def conversion_command(filename: Optional[str] = None) -> str:
    """The converter command for a released file (placeholders if unknown).

    Example:
        >>> print(conversion_command('resnet50_rla_2283.pth.tar'))
        ... # doctest: +NORMALIZE_WHITESPACE
        python tools/model_converters/rlanet_to_mmrla.py
            resnet50_rla_2283.pth.tar checkpoints/rla_resnet50_in1k.pth
    """
    released = find_released(filename) if filename else None
    if released:
        dst = released.converted
    elif filename:
        dst = osp.join('checkpoints',
                       osp.basename(filename).split('.')[0] + '_mmrla.pth')
    else:
        dst = 'CONVERTED.pth'
    command = f'python {CONVERTER} {filename or "AUTHORS_FILE"} {dst}'
    if filename and osp.abspath(filename) == osp.abspath(dst):
        # An authors' file saved under the converted name: replace it.
        command += ' --force'
    return command


class UnconvertedCheckpointError(ValueError):
    """An authors' released RLANet file was given to a loader unconverted."""


def unconverted_message(filename: Optional[str], key: str) -> str:
    """Explain that a file needs the converter, with the command."""
    what = filename or 'This state dict'
    return (f"{what} is in the layout of the authors' released RLANet "
            f"checkpoints or ablation models (e.g. key {key!r}), which mmrla "
            'loads only converted (so that nothing is silently left random). '
            'Convert '
            f'it once: {conversion_command(filename)} and load the '
            'converted file (docs/weights.md).')


def check_unconverted(state_dict: Mapping[str, torch.Tensor],
                      filename: Optional[str] = None) -> None:
    """Raise if ``state_dict`` holds the authors' unconverted layout.

    Raises:
        UnconvertedCheckpointError: Naming the converter command.

    Example:
        >>> check_unconverted({'backbone.layer1.0.rla_norm.weight': None})
        >>> check_unconverted({'stage_bns.0.0.weight': None,
        ...                    'conv_outs.0.weight': None}, 'r.pth.tar')
        Traceback (most recent call last):
        ...
        mmrla.converters.released.UnconvertedCheckpointError: r.pth.tar ...
    """
    markers = find_rlanet_markers(state_dict)
    # resnet50_k is told by a tensor's shape (the hooks pass keys only).
    key = next(iter(markers.values()), None) or find_resnet_k_key(state_dict)
    if key is not None:
        raise UnconvertedCheckpointError(unconverted_message(filename, key))


def read_state_dict(filename: str) -> Mapping[str, torch.Tensor]:
    """The state dict of a local checkpoint, as mmengine's loaders take it.

    That is the ``state_dict`` entry, or the whole file without one
    (``module.`` prefixes are kept). The file is loaded weights-only
    (:func:`~mmrla.engine.safe_load.load_checkpoint_file`); zip files are
    memory-mapped, so looking at the keys does not read the tensors.

    Raises:
        CheckpointLoadError: If the file is not a PyTorch checkpoint, or
            (:class:`~mmrla.engine.safe_load.UnsafeCheckpointError`) its
            pickle asks for more than weights-only loading allows.
    """
    checkpoint = load_checkpoint_file(filename, map_location='cpu', mmap=True)
    if not isinstance(checkpoint, Mapping):
        return {}
    return checkpoint.get('state_dict', checkpoint)


def check_checkpoint_file(filename: str) -> None:
    """Refuse a local checkpoint file that must not be loaded: one whose
    pickle asks for more than weights-only loading allows, or one in the
    authors' unconverted layout.

    Files that are not checkpoints are left to the checks and loaders that
    read them next, which report them in one line.

    Raises:
        UnsafeCheckpointError: See :func:`read_state_dict`.
        UnconvertedCheckpointError: Naming the converter command.
    """
    try:
        state_dict = read_state_dict(filename)
    except UnsafeCheckpointError:
        raise
    except CheckpointLoadError:
        return
    check_unconverted(state_dict, filename)


def check_pretrained_file(checkpoint: str) -> None:
    """Check a local ``init_cfg`` checkpoint before mmengine loads it.

    mmengine would fail deep inside its loader on a missing file, and with
    "backbone. is not in the pretrained model" on an unconverted ImageNet
    file; this names the fix instead. Remote URIs (``http://``,
    ``torchvision://``, ...) are left to mmengine.

    Raises:
        FileNotFoundError: If ``checkpoint`` is a missing local path.
        UnconvertedCheckpointError: If it is an authors' file, unconverted.
        UnsafeCheckpointError: See :func:`read_state_dict`.
    """
    if not isinstance(checkpoint, str) or '://' in checkpoint:
        return
    if osp.isfile(checkpoint):
        check_checkpoint_file(checkpoint)
        return
    released = find_released(checkpoint)
    if released is None:
        # Not a name of the authors' files: e.g. a layer-attention or a
        # self-trained backbone, which no converter produces.
        raise FileNotFoundError(
            f'Pretrained backbone weights "{checkpoint}" not found. Train '
            'them first with the matching classification config (its '
            'work_dir holds epoch_N.pth), point init_cfg.checkpoint at an '
            'existing file, or train the backbone from scratch: '
            '--cfg-options model.backbone.init_cfg=None')
    source = released.filename
    raise FileNotFoundError(
        f'Pretrained backbone weights "{checkpoint}" not found. Either '
        'convert the authors\' ImageNet checkpoint (github.com/'
        f'fangyanwen1106/RLANet): python {CONVERTER} {source} {checkpoint} '
        '; or train the backbone from scratch: --cfg-options '
        'model.backbone.init_cfg=None')


def _refuse_unconverted_state_dict(module: nn.Module, state_dict: Mapping,
                                   *args) -> None:
    # mmengine's and torch's loaders hand each module the part of the state
    # dict under its prefix: a detector file's 'backbone.stages...' keys.
    check_unconverted(state_dict)


def _refuse_unconverted_unexpected_keys(module: nn.Module,
                                        incompatible_keys) -> None:
    # An ImageNet file loaded into a whole classifier: the authors' keys sit
    # at the root, outside this module's part, and end up unexpected.
    check_unconverted(dict.fromkeys(incompatible_keys.unexpected_keys))


def refuse_unconverted_checkpoints(module: nn.Module) -> None:
    """Make ``module`` refuse the authors' unconverted checkpoints.

    Registers load_state_dict hooks (as mmpretrain's backbones do to adapt
    old layouts) that raise :class:`UnconvertedCheckpointError` when a state
    dict in the authors' layout is loaded into a model containing
    ``module``, with mmengine's loader or torch's, strict or not, instead of
    leaving its weights random. The RLA backbones call it in ``__init__``.

    Example:
        >>> import torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 1))
        >>> refuse_unconverted_checkpoints(model[0])
        >>> model.load_state_dict({'0.stage_bns.0.0.weight': 0,
        ...                        '0.conv_outs.0.weight': 0}, strict=False)
        Traceback (most recent call last):
        ...
        mmrla.converters.released.UnconvertedCheckpointError: ...
    """
    module.register_load_state_dict_pre_hook(_refuse_unconverted_state_dict)
    module.register_load_state_dict_post_hook(
        _refuse_unconverted_unexpected_keys)
