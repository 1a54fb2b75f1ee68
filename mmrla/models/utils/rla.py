import os
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F


def pool_hidden_state(h: torch.Tensor, stride: int) -> torch.Tensor:
    """Average-pool the RLA hidden state into a strided stage's resolution.

    The paper pools ``h`` by 2x2 average pooling on entering a new stage. A
    3x3 (or 1x1) convolution with stride ``s`` and "same" padding produces
    ``ceil(H / s)`` rows, whereas plain pooling gives ``floor(H / s)`` and the
    authors' code crashes on odd sizes. ``ceil_mode`` keeps the sizes aligned;
    its border windows average only the pixels that exist. At sizes divisible
    by ``s`` the result is exactly the paper's pooling.

    Args:
        h (Tensor): Hidden state of shape (N, k, H, W).
        stride (int): Stride of the stage's first block.

    Returns:
        Tensor: Shape (N, k, ceil(H / stride), ceil(W / stride)).

    Example:
        >>> import torch
        >>> pool_hidden_state(torch.rand(1, 32, 57, 56), 2).shape
        torch.Size([1, 32, 29, 28])
    """
    if stride == 1:
        return h
    return F.avg_pool2d(h, kernel_size=stride, stride=stride, ceil_mode=True)


# The authors' released ImageNet checkpoint behind each converted file name
# that the configs use.
RELEASED_CHECKPOINTS = {
    'rla_resnet50_in1k.pth': 'resnet50_rla_2283.pth.tar',
    'rla_ecaresnet50_in1k.pth': 'ecanet50_rla_2215.pth.tar',
    'rla_resnet101_in1k.pth': 'resnet101_rla_2148.pth.tar',
    'rla_ecaresnet101_in1k.pth': 'ecanet101_rla_2100.pth.tar',
    'rla_mobilenetv2_in1k.pth': 'dsrla_mobilenetv2_k32_2762.pth.tar',
    'rla_ecamobilenetv2_in1k.pth': 'dsrla_mobilenetv2_k32_eca_2707.pth.tar',
}


def check_pretrained_file(checkpoint: str) -> None:
    """Explain how to get RLA ImageNet weights when a local file is missing.

    mmengine would fail deep inside its loader; this names the fix instead.
    Remote URIs (``http://``, ``torchvision://``, ...) are left to mmengine.

    Raises:
        FileNotFoundError: If ``checkpoint`` is a missing local path.
    """
    if not isinstance(checkpoint, str) or '://' in checkpoint or \
            os.path.isfile(checkpoint):
        return
    source = RELEASED_CHECKPOINTS.get(
        os.path.basename(checkpoint), 'AUTHORS_CHECKPOINT.pth.tar')
    raise FileNotFoundError(
        f'Pretrained backbone weights "{checkpoint}" not found. Either '
        'convert the authors\' ImageNet checkpoint (github.com/'
        'fangyanwen1106/RLANet): python tools/model_converters/'
        f'rlanet_to_mmrla.py {source} {checkpoint} ; or train the backbone '
        'from scratch: --cfg-options model.backbone.init_cfg=None')


def check_out_indices(out_indices: Union[int, Sequence[int]], num_outputs: int,
                      valid: str) -> Tuple[int, ...]:
    """Validate ``out_indices`` and normalize them (sorted, non-negative).

    Args:
        out_indices (int | Sequence[int]): Requested output indices;
            negatives count from the end.
        num_outputs (int): Number of selectable outputs.
        valid (str): What the valid values mean, for the error message.

    Raises:
        ValueError: For an empty selection or an index out of range.

    Example:
        >>> check_out_indices((-1, 0), 4, 'stages')
        (0, 3)
    """
    if isinstance(out_indices, int):
        out_indices = (out_indices, )
    if not isinstance(out_indices, (tuple, list)) or not out_indices:
        raise ValueError('out_indices must be a non-empty tuple of indices, '
                         f'got {out_indices!r}.')
    for index in out_indices:
        if not isinstance(index, int) or \
                not -num_outputs <= index < num_outputs:
            raise ValueError(
                f'out_indices {tuple(out_indices)} has {index!r}, out of '
                f'range: {valid}.')
    return tuple(sorted({index % num_outputs for index in out_indices}))
