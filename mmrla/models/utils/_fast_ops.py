"""Inference-only speed helpers (private: used by ``switch_to_deploy``)."""
import torch


def fast_tanh_(x: torch.Tensor) -> torch.Tensor:
    """``x.tanh_()``, faster for CPU inference.

    PyTorch's CPU tanh kernel runs several times slower than its sigmoid
    kernel (torch 2.5, AVX-512; see docs/performance.md), and every RLA
    block applies tanh to its hidden state. Without autograd, for float32 on
    CPU, this computes ``2 * sigmoid(2x) - 1`` in place instead: the same
    function, within 2e-7 absolutely (native tanh: 6e-8). Below 8192
    elements the four small ops cost more than they save. Training, other
    devices and dtypes (bfloat16 would lose precision), and compiled graphs,
    which fuse tanh anyway, use ``tanh_``. Autograd must not need ``x``
    itself (true for a norm's output).

    Args:
        x (Tensor): Input, overwritten.

    Returns:
        Tensor: ``x``, holding ``tanh(x)``.

    Example:
        >>> import torch
        >>> x = torch.linspace(-3, 3, 7)
        >>> expected = torch.tanh(x)
        >>> bool((fast_tanh_(x) - expected).abs().max() < 1e-6)
        True
    """
    # Tracing and export first: a traced size check would warn.
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or \
            torch.compiler.is_compiling() or \
            x.device.type != 'cpu' or x.dtype != torch.float32 or \
            x.numel() < 8192 or \
            (torch.is_grad_enabled() and x.requires_grad):
        return x.tanh_()
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)
