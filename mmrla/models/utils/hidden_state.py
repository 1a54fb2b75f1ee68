"""Resolution and memory layout of the RLA hidden state."""
import torch
import torch.nn.functional as F


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


def hidden_state_layout(h: torch.Tensor) -> torch.Tensor:
    """The memory layout for a depthwise RLA hidden state: channels_last on
    CPU, where oneDNN's depthwise convs and PyTorch's average pooling run
    several times faster in it than in NCHW; unchanged elsewhere.

    Example:
        >>> import torch
        >>> h = hidden_state_layout(torch.rand(1, 8, 4, 4))
        >>> h.is_contiguous(memory_format=torch.channels_last)
        True
    """
    if h.device.type == 'cpu' and h.dim() == 4:
        return h.contiguous(memory_format=torch.channels_last)
    return h
