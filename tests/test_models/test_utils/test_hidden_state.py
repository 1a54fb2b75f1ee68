import torch
import torch.nn.functional as F

from mmrla.models.utils import hidden_state_layout, pool_hidden_state


def test_pooling_is_the_papers_at_even_sizes_and_covers_odd_ones():
    h = torch.randn(2, 32, 8, 6)
    assert torch.equal(pool_hidden_state(h, 2), F.avg_pool2d(h, 2, 2))
    assert pool_hidden_state(h, 1) is h
    odd = torch.randn(1, 4, 5, 3)
    pooled = pool_hidden_state(odd, 2)
    assert pooled.shape == (1, 4, 3, 2)
    # Border windows average only the pixels that exist.
    torch.testing.assert_close(pooled[..., 2, 1], odd[..., 4, 2])
    torch.testing.assert_close(pooled[..., 2, 0], odd[..., 4, :2].mean(-1))


def test_hidden_state_layout_is_channels_last_on_cpu():
    h = torch.rand(2, 32, 5, 6)
    out = hidden_state_layout(h)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, h, atol=0, rtol=0)
    # The sum with a state keeps the state's layout (see RLACell).
    assert (out + h).is_contiguous(memory_format=torch.channels_last)
