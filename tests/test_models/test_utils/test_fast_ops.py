import torch

from mmrla.models.utils._fast_ops import fast_tanh_


def test_fast_tanh_matches_tanh_in_place():
    x = torch.linspace(-12, 12, 100_001)
    expected = torch.tanh(x.double())
    with torch.no_grad():
        y = x.clone()
        out = fast_tanh_(y)
    assert out.data_ptr() == y.data_ptr()  # in place
    assert (out.double() - expected).abs().max() < 3e-7
    assert out.abs().max() <= 1  # saturates like tanh, no overshoot


def test_fast_tanh_keeps_native_tanh_where_it_matters():
    # Training needs tanh's own backward; bfloat16 would lose precision to
    # the sigmoid form; float64 keeps exact comparisons exact.
    x = torch.randn(4, 5, requires_grad=True)
    y = fast_tanh_(x * 1.0)
    torch.testing.assert_close(y, torch.tanh(x), atol=0, rtol=0)
    (grad, ) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, 1 - torch.tanh(x)**2)
    with torch.no_grad():
        # Small tensors: four small ops would cost more than tanh.
        small = torch.randn(2, 32, 7, 7)
        torch.testing.assert_close(
            fast_tanh_(small.clone()), torch.tanh(small), atol=0, rtol=0)
        for dtype in (torch.bfloat16, torch.float64):
            t = torch.randn(50).to(dtype)
            torch.testing.assert_close(
                fast_tanh_(t.clone()), torch.tanh(t), atol=0, rtol=0)
