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


def dense_pool_hidden_state(h: torch.Tensor, factor: int,
                            spacing: int) -> torch.Tensor:
    """The pooling of :func:`pool_hidden_state` at every position: the
    state of a dilated stage, which keeps its resolution where the strided
    network would pool.

    Each position averages the ``factor x factor`` window that starts at it,
    on the grid of step ``spacing`` (the dilation before the stage); windows
    that pass the border average the pixels inside, as ``ceil_mode`` does.
    Read at every ``factor * spacing``-th position, this is the strided
    pooling of the same state (docs/detection.md, "Dilated stages").

    Args:
        h (Tensor): Hidden state of shape (N, k, H, W).
        factor (int): The stride it replaces (2 for a stage of stride 1
            and twice the dilation of the stage before).
        spacing (int): The dilation of the stage before.

    Returns:
        Tensor: Shape (N, k, H, W).

    Example:
        >>> import torch
        >>> h = torch.rand(1, 8, 6, 6)
        >>> dense = dense_pool_hidden_state(h, 2, 1)
        >>> torch.allclose(dense[..., ::2, ::2], pool_hidden_state(h, 2))
        True
    """
    if factor == 1:
        return h
    reach = (factor - 1) * spacing
    channels = h.shape[1]
    ones = h.new_ones(1, 1, *h.shape[2:])
    kernel = h.new_ones(channels + 1, 1, factor, factor)
    summed = F.conv2d(
        F.pad(
            torch.cat([h, ones.expand(h.shape[0], 1, -1, -1)], 1),
            (0, reach, 0, reach)),
        kernel,
        dilation=spacing,
        groups=channels + 1)
    # The last channel counts the pixels inside each window.
    return summed[:, :channels] / summed[:, channels:]


def dense_pool_state(state, factor: int, spacing: int):
    """:func:`dense_pool_hidden_state` of a cell's state: a tensor, a tuple
    of them (ConvLSTM's ``(h, c)``) or None (the zero state, unchanged)."""
    if state is None or factor == 1:
        return state
    if isinstance(state, tuple):
        return tuple(
            dense_pool_hidden_state(s, factor, spacing) for s in state)
    return dense_pool_hidden_state(state, factor, spacing)
