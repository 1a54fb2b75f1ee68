import pytest
from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmengine.dataset import DefaultSampler
from torch.utils.data import (BatchSampler, DataLoader, Dataset,
                              SequentialSampler)

from mmrla.engine.resumable_loader import KeyedBatchSampler, ResumableIterator


class _Images(Dataset):
    """Indices as items; every third image is portrait."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        return index

    def get_data_info(self, index: int) -> dict:
        return dict(width=5 if index % 3 == 0 else 10, height=7)


def test_skipped_batches_are_not_loaded_and_the_rest_unchanged():
    # Aspect-ratio batches are formed from every index seen before, so the
    # batches after a skip depend on the skipped ones.
    sampler = DefaultSampler(_Images(11), shuffle=True, seed=0)
    batches = KeyedBatchSampler(
        AspectRatioBatchSampler(sampler, batch_size=2), seed=7, rank=1)
    batches.start_pass(4)
    full = [(list(b), b.key) for b in batches]
    assert len(full) == len(batches) == 6
    assert [key for _, key in full] == [(7, 1, 4, b) for b in range(6)]
    assert sorted(sum((b for b, _ in full), [])) == list(range(11))
    batches.start_pass(4, skip=4)
    assert [(list(b), b.key) for b in batches] == full[4:]
    # The next pass starts at its beginning again.
    assert [(list(b), b.key) for b in batches] == full
    assert batches.sampler is sampler


def _loader(size: int = 11) -> DataLoader:
    dataset = _Images(size)
    # (mmengine's DefaultSampler cannot take an empty dataset.)
    sampler = DefaultSampler(dataset, shuffle=True, seed=0) if size else \
        SequentialSampler(dataset)
    return DataLoader(
        dataset,
        batch_sampler=KeyedBatchSampler(BatchSampler(sampler, 3, False), 0, 0),
        collate_fn=list)


def test_resumable_iterator_passes_and_resumes_mid_pass():
    iterator = ResumableIterator(_loader())
    # 11 items in batches of 3: 4 batches per pass, a new order each pass.
    full = [next(iterator) for _ in range(10)]
    passes = [sorted(sum(full[p * 4:p * 4 + 4], [])) for p in (0, 1)]
    assert passes == [list(range(11))] * 2
    assert full[:4] != full[4:8]
    assert (iterator.pass_index, iterator.batches) == (2, 2)

    # A run resumed after 6 iterations: the loop's 6 skipping calls load
    # nothing, then the data continues in pass 1 after its batch 2.
    resumed = ResumableIterator(_loader(), pass_index=1, batches=2, replay=6)
    assert [next(resumed) for _ in range(6)] == [None] * 6
    assert [next(resumed) for _ in range(4)] == full[6:]
    # Resuming at the end of a pass moves on to the next one.
    resumed = ResumableIterator(_loader(), pass_index=0, batches=4)
    assert next(resumed) == full[4]


def test_empty_loader_is_an_error():
    with pytest.raises(RuntimeError, match='dataloader is empty'):
        next(ResumableIterator(_loader(size=0)))
