from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmrla.registry import MODELS


@MODELS.register_module()
class ECALayer(BaseModule):
    """Efficient Channel Attention (Wang et al., CVPR 2020).

    A 1D convolution across the globally pooled channel descriptor gives a
    sigmoid gate per channel. The parameter name ``conv`` matches the
    authors' ECA-Net and RLA-Net checkpoints.

    Args:
        channels (int): Number of input (and output) channels.
        kernel_size (int): Size of the 1D kernel across channels; must be a
            positive odd number so that the channel count is preserved.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Example:
        >>> import torch
        >>> layer = ECALayer(64, kernel_size=5)
        >>> layer(torch.rand(2, 64, 7, 9)).shape
        torch.Size([2, 64, 7, 9])
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int = 3,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(kernel_size, int) or kernel_size < 1 \
                or kernel_size % 2 == 0:
            raise ValueError(
                f'ECA kernel_size must be a positive odd integer, got '
                f'{kernel_size!r}; use e.g. 3, 5 or 7.')
        self.channels = channels
        self.conv = nn.Conv1d(
            1,
            1,
            kernel_size=kernel_size,
            padding=(kernel_size - 1) // 2,
            bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate of each channel, shape (N, C, 1, 1)."""
        n, c = x.shape[:2]
        weight = x.mean(dim=(2, 3)).view(n, 1, c)
        return self.conv(weight).sigmoid().view(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)

    def residual_relu(self,
                      branch: torch.Tensor,
                      norm: nn.Module,
                      identity: torch.Tensor,
                      act: nn.Module,
                      fast: bool = True) -> torch.Tensor:
        """``act(self(norm(branch)) + identity)``: the end of a residual
        block whose branch ends in a norm and this layer.

        The plain form keeps ``norm(branch)`` for backward (the product with
        the gate needs it), one more feature map per block than the block
        without ECA, which keeps only ``branch`` (for the norm's backward)
        and the output. The fast form, for a ``BatchNorm2d`` and a ``ReLU``,
        computes ``relu(x * gate + identity)`` in one autograd function that
        keeps ``branch``, the gate and the output, and recomputes
        ``x = norm(branch)`` in backward, with the statistics the forward
        used: the same values, without the extra map. Compiled, traced and
        exported graphs take the plain form.

        Args:
            branch (Tensor): The branch before its last norm, (N, C, H, W).
            norm (nn.Module): The branch's last norm.
            identity (Tensor): The shortcut, shaped like ``branch``.
            act (nn.Module): The activation after the sum.
            fast (bool): Allow the fast form. Defaults to True.

        Returns:
            Tensor: The block output.

        Example:
            >>> import torch
            >>> eca, norm = ECALayer(8), torch.nn.BatchNorm2d(8)
            >>> relu = torch.nn.ReLU(inplace=True)
            >>> c, identity = torch.randn(2, 8, 5, 5), torch.randn(2, 8, 5, 5)
            >>> out = eca.residual_relu(c, norm, identity, relu)
            >>> plain = eca.residual_relu(c, norm, identity, relu, fast=False)
            >>> bool(torch.allclose(out, plain, atol=1e-6))
            True
        """
        # Compiled graphs choose what to keep and recompute themselves;
        # traced and exported graphs get the plain operators.
        compiling = torch.jit.is_tracing() or \
            torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()
        recompute = _norm_recomputation(norm) if fast and not compiling \
            and type(act) is nn.ReLU else None
        if recompute is None:
            # In place, as in mmpretrain's ResNet: the product is not needed
            # any more.
            return act(self(norm(branch)).add_(identity))
        x = norm(branch)
        return _GateResidualReLU.apply(x, self.gate(x), identity, recompute,
                                       branch, norm.weight, norm.bias)


def _norm_recomputation(norm: nn.Module) -> Optional[Callable]:
    """A function ``(branch, weight, bias) -> norm(branch)`` that gives
    again, without side effects, what ``norm`` computes now; None if
    ``norm`` is not a plain ``BatchNorm2d`` (SyncBN reduces across
    processes)."""
    if type(norm) is not nn.BatchNorm2d:
        return None
    if norm.training or (norm.running_mean is None
                         and norm.running_var is None):
        # Batch statistics; the running ones are left alone.
        return lambda c, w, b: F.batch_norm(c, None, None, w, b, True, 0., norm
                                            .eps)
    mean, var = norm.running_mean.clone(), norm.running_var.clone()
    return lambda c, w, b: F.batch_norm(c, mean, var, w, b, False, 0., norm.eps
                                        )


class _GateResidualReLU(torch.autograd.Function):
    """``relu(x * gate + identity)``, keeping for backward what recomputes
    ``x`` instead of ``x`` itself (see :meth:`ECALayer.residual_relu`)."""

    @staticmethod
    def forward(ctx, x, gate, identity, recompute, *recompute_inputs):
        out = torch.addcmul(identity, x, gate).relu_()
        ctx.recompute = recompute
        ctx.save_for_backward(gate, out, *recompute_inputs)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        gate, out, *recompute_inputs = ctx.saved_tensors
        # ReLU's backward: no gradient where the output is zero.
        grad = grad_out.masked_fill(out <= 0, 0)
        grad_x = grad * gate if ctx.needs_input_grad[0] else None
        grad_gate = None
        if ctx.needs_input_grad[1]:
            with torch.no_grad():
                x = ctx.recompute(*recompute_inputs)
            grad_gate = x.mul_(grad).sum(dim=(2, 3), keepdim=True)
        grad_identity = grad if ctx.needs_input_grad[2] else None
        return (grad_x, grad_gate, grad_identity,
                None) + (None, ) * len(recompute_inputs)
