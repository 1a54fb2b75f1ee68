"""The authors' released RLANet checkpoints, and how mmrla treats them.

mmrla loads converted files only: an unconverted released file is refused
with an error that names the converter command (see docs/weights.md for
why). :func:`check_unconverted` tells the authors' layout from a state
dict's keys; :mod:`mmrla.weights` runs it on the files the tools and
mmrla's loading functions are given.
"""
import os.path as osp
from typing import Mapping, NamedTuple, Optional

import torch

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
    # resnet50_k is told by a tensor's shape.
    key = next(iter(markers.values()), None) or find_resnet_k_key(state_dict)
    if key is not None:
        raise UnconvertedCheckpointError(unconverted_message(filename, key))
