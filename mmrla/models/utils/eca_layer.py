import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmrla.registry import MODELS
from .batch_norm import batch_norm_arguments


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
        computes norm, gate, product, sum and activation in one autograd
        function that keeps ``branch``, the output and per-channel values
        (see :class:`_ECAResidualReLU`): the same values, without the extra
        map, and fewer passes over the maps in backward. Compiled, traced
        and exported graphs take the plain form.

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
        if not (fast and not compiling and type(norm) is nn.BatchNorm2d
                and type(act) is nn.ReLU and type(self.conv) is nn.Conv1d):
            # In place, as in mmpretrain's ResNet: the product is not needed
            # any more.
            return act(self(norm(branch)).add_(identity))
        args = batch_norm_arguments(norm)
        return _ECAResidualReLU.apply(branch, norm.weight, norm.bias,
                                      self.conv.weight, identity,
                                      args.running_mean, args.running_var,
                                      args.batch_stats, args.momentum,
                                      norm.eps, self.conv.padding[0])


def _gate_of_means(means: torch.Tensor, conv_weight: torch.Tensor,
                   padding: int) -> torch.Tensor:
    """ECA's gate from the channel means (N, C): (N, C, 1, 1)."""
    n, c = means.shape
    return F.conv1d(
        means.view(n, 1, c), conv_weight,
        padding=padding).sigmoid().view(n, c, 1, 1)


class _ECAResidualReLU(torch.autograd.Function):
    """``relu(x * gate(x) + identity)`` with ``x = batch_norm(c)`` as one
    autograd step (see :meth:`ECALayer.residual_relu`).

    It keeps ``c``, the output and per-channel values; not ``x``. Backward
    needs ``x`` only in the gate's gradient, a sum over each map of
    ``grad * x``; with ``x = scale * c + shift`` per channel that sum is
    ``scale * sum(grad * c) + shift * sum(grad)``, computed from ``c``
    without writing ``x`` again. The norm's backward is PyTorch's own.
    """

    @staticmethod
    def forward(ctx, c, weight, bias, conv_weight, identity, running_mean,
                running_var, batch_stats, momentum, eps, padding):
        x, mean, invstd = torch.native_batch_norm(c, weight, bias,
                                                  running_mean, running_var,
                                                  batch_stats, momentum, eps)
        if batch_stats:
            running_mean = running_var = None  # backward needs neither
        else:
            # Copies, in case the buffers change before backward.
            running_mean, running_var = running_mean.clone(), \
                running_var.clone()
            mean, invstd = running_mean, (running_var + eps).rsqrt()
        means = x.mean(dim=(2, 3))
        gate = _gate_of_means(means, conv_weight, padding)
        out = torch.addcmul(identity, x, gate).relu_()
        ctx.save_for_backward(c, weight, bias, conv_weight, gate, out, means,
                              mean, invstd, running_mean, running_var)
        ctx.batch_stats, ctx.eps, ctx.padding = batch_stats, eps, padding
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (c, weight, bias, conv_weight, gate, out, means, mean, invstd,
         running_mean, running_var) = ctx.saved_tensors
        # ReLU's backward: no gradient where the output is zero.
        grad = torch.ops.aten.threshold_backward(grad_out, out, 0)
        # The gate's gradient, sum over each map of grad * x, from c.
        scale = invstd if weight is None else invstd * weight
        shift = -mean * scale if bias is None else bias - mean * scale
        grad_gate = scale * torch.einsum('nchw,nchw->nc', grad, c) + \
            shift * grad.sum(dim=(2, 3))
        with torch.enable_grad():
            means = means.detach().requires_grad_()
            conv_weight = conv_weight.detach().requires_grad_()
            gate_again = _gate_of_means(means, conv_weight, ctx.padding)
        grad_means, grad_conv = torch.autograd.grad(
            gate_again, (means, conv_weight), grad_gate.view_as(gate_again))
        # x reaches the output through the product and through its means.
        grad_x = torch.addcmul(grad_means[:, :, None, None] / c[0, 0].numel(),
                               grad, gate)
        needs = ctx.needs_input_grad
        grad_c, grad_weight, grad_bias = \
            torch.ops.aten.native_batch_norm_backward(
                grad_x, c, weight, running_mean, running_var,
                mean if ctx.batch_stats else None,
                invstd if ctx.batch_stats else None, ctx.batch_stats,
                ctx.eps, [needs[0], needs[1], needs[2]])
        return (grad_c, grad_weight, grad_bias,
                grad_conv if needs[3] else None, grad if needs[4] else None,
                None, None, None, None, None, None)
