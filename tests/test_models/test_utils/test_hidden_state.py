import torch
import torch.nn.functional as F

from mmrla.models.utils import pool_hidden_state


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
