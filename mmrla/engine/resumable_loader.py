"""A training dataloader that can start a pass in the middle.

mmengine restarts the data of a resumed run at the beginning of its epoch
(``EpochBasedTrainLoop``) or loads and drops every batch trained on before
(``IterBasedTrainLoop``), with fresh worker processes either way. Here the
loader's batch sampler skips the batches trained on without loading them,
and every batch carries the key that seeds its samples' augmentation
(:class:`~mmrla.engine.random_state.SeededSamples`), so the resumed run sees
the batches, and the augmentations, that the uninterrupted one saw.
"""
import copy
from typing import Iterator, Optional

import torch
from mmengine.dist import get_rank
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, DataLoader, IterableDataset

from .random_state import KeyedBatch, SeededSamples


class KeyedBatchSampler:
    """Wrap a batch sampler: key its batches and skip the first few.

    Args:
        batch_sampler: The dataloader's batch sampler (e.g. torch's
            ``BatchSampler`` or mmdet's ``AspectRatioBatchSampler``).
        seed (int): The run's seed, first part of every key.
        rank (int): This process's rank, second part of every key.

    Example:
        >>> from torch.utils.data import BatchSampler, SequentialSampler
        >>> batches = KeyedBatchSampler(
        ...     BatchSampler(SequentialSampler(range(5)), 2, False), 0, 0)
        >>> batches.start_pass(3, skip=1)
        >>> [(list(b), b.key) for b in batches]
        [([2, 3], (0, 0, 3, 1)), ([4], (0, 0, 3, 2))]
        >>> len(batches), [list(b) for b in batches][0]  # skip is one-shot
        (3, [0, 1])
    """

    def __init__(self, batch_sampler, seed: int, rank: int) -> None:
        self.batch_sampler = batch_sampler
        self.seed = seed
        self.rank = rank
        self.pass_index = 0
        self._skip = 0

    @property
    def sampler(self):
        """The wrapped batch sampler's sampler.

        mmengine's ``DistSamplerSeedHook`` sets the epoch of
        ``dataloader.batch_sampler.sampler``.
        """
        return getattr(self.batch_sampler, 'sampler', None)

    def start_pass(self, pass_index: int, skip: int = 0) -> None:
        """Key the next pass over the data by ``pass_index``; skip ``skip``
        batches at its beginning."""
        self.pass_index = pass_index
        self._skip = skip

    def __iter__(self) -> Iterator[KeyedBatch]:
        skip, self._skip = self._skip, 0
        for index, batch in enumerate(self.batch_sampler):
            # The whole pass is iterated, skipped batches too: batch
            # samplers such as AspectRatioBatchSampler form their batches
            # from everything they saw before.
            if index >= skip:
                yield KeyedBatch(
                    batch, (self.seed, self.rank, self.pass_index, index))

    def __len__(self) -> int:
        return len(self.batch_sampler)


class _KeyedDataLoader(DataLoader):
    """A ``DataLoader`` over a :class:`KeyedBatchSampler` that reports the
    batch size of its batches.

    A ``DataLoader`` given a batch sampler sets ``batch_size`` to None;
    hooks such as mmpretrain's ``PreciseBNHook`` read it from the training
    dataloader.
    """

    @property
    def batch_size(self) -> Optional[int]:
        return getattr(self.batch_sampler.batch_sampler, 'batch_size', None)

    @batch_size.setter
    def batch_size(self, value) -> None:
        pass  # DataLoader.__init__ sets None


def set_sampler_epoch(loader: DataLoader, epoch: int) -> None:
    """Set the epoch of the loader's sampler, as mmengine's hooks do."""
    for sampler in (loader.sampler,
                    getattr(loader.batch_sampler, 'sampler', None)):
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(epoch)
            return


def _fresh_batch_sampler(runner, loader: DataLoader, seed: int):
    """Build the loader's batch sampler again from the runner's config.

    Falls back to the loader's own batch sampler when the config does not
    say how to build it.
    """
    cfg = runner.cfg.get('train_dataloader')
    if not isinstance(cfg, dict) or not isinstance(cfg.get('sampler'), dict) \
            or not isinstance(cfg.get('batch_sampler') or {}, dict):
        return loader.batch_sampler
    cfg = copy.deepcopy({k: v for k, v in cfg.items() if k != 'dataset'})
    # As mmengine's Runner.build_dataloader builds them.
    diff_rank_seed = runner.cfg.get('randomness',
                                    {}).get('diff_rank_seed', False)
    sampler = DATA_SAMPLERS.build(
        cfg['sampler'],
        default_args=dict(
            dataset=loader.dataset, seed=None if diff_rank_seed else seed))
    if isinstance(cfg.get('batch_sampler'), dict):
        return DATA_SAMPLERS.build(
            cfg['batch_sampler'],
            default_args=dict(sampler=sampler, batch_size=cfg['batch_size']))
    return BatchSampler(sampler, cfg['batch_size'],
                        cfg.get('drop_last', False))


def build_resumable_loader(
        runner,
        loader: DataLoader,
        seed: int,
        sampler_seed: Optional[int] = None) -> Optional[DataLoader]:
    """Rebuild the training dataloader around a :class:`KeyedBatchSampler`.

    The sampler and batch sampler are built afresh from the runner's
    ``train_dataloader`` config, since an iteration-based loop has already
    started iterating the original ones and samplers like mmdet's
    ``AspectRatioBatchSampler`` or mmengine's ``InfiniteSampler`` keep
    state between iterations; this also seeds them with the seed of a
    resumed checkpoint. The dataset stays the same object; it gets a
    :class:`~mmrla.engine.random_state.SeededSamples` ``__getitems__``. The
    loader gets its own ``torch.Generator``, so that starting an iteration
    over it (which draws a base seed for the workers) leaves torch's global
    generator alone.

    Args:
        runner (Runner): The runner.
        loader (DataLoader): The loop's training dataloader.
        seed (int): The run's seed.
        sampler_seed (int, optional): The seed to give the sampler, as a
            resumed run's sampler had it. mmengine seeds the sampler with
            ``seed``, or with a random number when
            ``randomness.diff_rank_seed`` is set.

    Returns:
        DataLoader or None: The new loader, or None for loaders this cannot
        handle (no batch sampler, e.g. iterable datasets).
    """
    if loader.batch_sampler is None or isinstance(loader.dataset,
                                                  IterableDataset):
        return None
    dataset = loader.dataset
    # An instance attribute on purpose: the DataLoader looks the method up
    # on the object, and everyone else keeps seeing the original dataset.
    dataset.__getitems__ = SeededSamples(dataset)
    batch_sampler = _fresh_batch_sampler(runner, loader, seed)
    sampler = getattr(batch_sampler, 'sampler', None)
    if sampler_seed is not None and hasattr(sampler, 'seed'):
        sampler.seed = sampler_seed
    generator = loader.generator
    if generator is None:
        generator = torch.Generator().manual_seed(seed)
    return _KeyedDataLoader(
        dataset,
        batch_sampler=KeyedBatchSampler(batch_sampler, seed, get_rank()),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=generator,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device)


class ResumableIterator:
    """Endless batches for ``IterBasedTrainLoop``, starting anywhere.

    It stands in for mmengine's ``_InfiniteDataloaderIterator``: it passes
    over the loader again and again, setting the sampler's epoch to the
    pass's number, and it counts the batches handed out in the current pass,
    so that a checkpoint can record where the data stands.

    On resume, ``IterBasedTrainLoop.run`` calls ``next`` once for each
    iteration trained before, to skip their data; the first ``replay``
    calls therefore return None without loading anything, and the next one
    starts at ``(pass_index, batches)``.

    Args:
        loader (DataLoader): A loader from :func:`build_resumable_loader`.
        pass_index (int): The pass to start in.
        batches (int): Batches of that pass to skip.
        replay (int): Calls to answer with None first.
    """

    def __init__(self,
                 loader: DataLoader,
                 pass_index: int = 0,
                 batches: int = 0,
                 replay: int = 0) -> None:
        self.loader = loader
        self.pass_index = pass_index
        self.batches = batches
        self.replay = replay
        self._iterator = None

    def __iter__(self) -> 'ResumableIterator':
        return self

    def close(self) -> None:
        """Let go of the loader's iterator (and its worker processes)."""
        self._iterator = None

    def __next__(self):
        if self.replay > 0:
            self.replay -= 1
            return None
        while True:
            if self._iterator is None:
                set_sampler_epoch(self.loader, self.pass_index)
                self.loader.batch_sampler.start_pass(
                    self.pass_index, skip=self.batches)
                self._iterator = iter(self.loader)
            try:
                batch = next(self._iterator)
            except StopIteration:
                if self.batches == 0:
                    raise RuntimeError('The training dataloader is empty.')
                self._iterator = None
                self.pass_index += 1
                self.batches = 0
                continue
            self.batches += 1
            return batch
