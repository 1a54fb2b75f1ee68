"""The states of the random number generators a training run draws from.

A resumed run continues the random streams of the interrupted one only if
the generators' states travel with the checkpoint: python's ``random``,
numpy's global generator, torch's CPU generator and the generator of every
CUDA device. :func:`get_rng_state` captures them as tensors and plain
python values, which ``torch.load(..., weights_only=True)`` accepts, and
:func:`set_rng_state` puts them back.

The data pipeline gets its own generators instead: :class:`SeededSamples`
seeds them for every sample from the sample's place in the run, so a
sample's random augmentation does not depend on which worker process loads
it, on what that worker loaded before, or on how often training stopped.
"""
import hashlib
import random
from contextlib import contextmanager
from typing import Iterator, List, Sequence

import numpy as np
import torch


def get_rng_state() -> dict:
    """Capture the global generators of this process.

    CUDA generators are captured only once CUDA is initialized: before
    that, nothing can have drawn from them.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and ``cuda`` (one state per
        visible device) entries, made of tensors, ints, floats and None.

    Example:
        >>> state = get_rng_state()
        >>> a = torch.rand(2)
        >>> set_rng_state(state)
        >>> torch.equal(torch.rand(2), a)
        True
        >>> state['torch'].dtype, state['numpy']['keys'].shape
        (torch.uint8, torch.Size([624]))
    """
    version, words, gauss_next = random.getstate()
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    cuda = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    return dict(
        python=dict(
            version=version,
            words=torch.tensor(words, dtype=torch.int64),
            gauss_next=gauss_next),
        numpy=dict(
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state(),
        cuda=cuda)


def set_rng_state(state: dict) -> None:
    """Restore the generators captured by :func:`get_rng_state`.

    The tensors may lie on any device (checkpoints are often loaded onto
    the GPU).

    Raises:
        RuntimeError: If the state holds more CUDA generators than this
            process sees devices.
    """
    python = state['python']
    random.setstate((python['version'], tuple(python['words'].tolist()),
                     python['gauss_next']))
    numpy = state['numpy']
    np.random.set_state(
        ('MT19937', numpy['keys'].cpu().numpy().astype(np.uint32),
         numpy['pos'], numpy['has_gauss'], numpy['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state['cuda']
    if not cuda:
        return
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if len(cuda) > visible:
        raise RuntimeError(
            f'The checkpoint holds the generator states of {len(cuda)} CUDA '
            f'devices, but this process sees {visible}. Resume with the '
            'same devices visible (CUDA_VISIBLE_DEVICES) as the run that '
            'saved it.')
    for device, device_state in enumerate(cuda):
        torch.cuda.set_rng_state(device_state.cpu(), device)


@contextmanager
def isolated_rng() -> Iterator[None]:
    """Give the enclosed code the host generators back as they were.

    Draws inside the block (python ``random``, numpy, torch CPU) leave the
    streams outside it untouched.

    Example:
        >>> before = torch.get_rng_state()
        >>> with isolated_rng():
        ...     _ = torch.rand(3), np.random.rand(), random.random()
        >>> torch.equal(torch.get_rng_state(), before)
        True
    """
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


def seed_rng(key: Sequence[int]) -> None:
    """Seed python ``random``, numpy and torch's CPU generator from ``key``.

    A BLAKE2 hash of the key gives each generator its own seed, so keys
    that differ in any place give unrelated streams. CUDA generators are
    left alone (``torch.manual_seed`` would reseed them too).

    Args:
        key (Sequence[int]): Integers.

    Example:
        >>> seed_rng((0, 1, 2))
        >>> a = torch.rand(1), np.random.rand(), random.random()
        >>> seed_rng((0, 1, 2))
        >>> a == (torch.rand(1), np.random.rand(), random.random())
        True
    """
    digest = hashlib.blake2b(
        repr(tuple(int(k) for k in key)).encode(), digest_size=20).digest()
    random.seed(int.from_bytes(digest[:8], 'little'))
    np.random.seed(int.from_bytes(digest[8:12], 'little'))
    torch.default_generator.manual_seed(int.from_bytes(digest[12:], 'little'))


class KeyedBatch(list):
    """Dataset indices of one batch and the key its samples are seeded by.

    Args:
        indices (Sequence[int]): The dataset indices.
        key (tuple[int]): The batch's place in the run, e.g. ``(seed, rank,
            epoch, batch)``; sample ``j`` of the batch is seeded by
            ``key + (j, )``.
    """

    def __init__(self, indices: Sequence[int], key: tuple) -> None:
        super().__init__(indices)
        self.key = tuple(key)


class SeededSamples:
    """A dataset's ``__getitems__`` that seeds every sample's generators.

    A ``DataLoader`` with a batch sampler fetches a batch through
    ``dataset.__getitems__(indices)`` when the dataset has one; that call
    runs in the worker process that loads the batch (or in the main process
    without workers). For a :class:`KeyedBatch`, each sample is loaded with
    python ``random``, numpy and torch's CPU generator seeded by
    :func:`seed_rng` from the batch's key and the sample's slot, inside
    :func:`isolated_rng` so that the main process's streams (used by the
    model) are left alone. Other index lists are loaded as the
    ``DataLoader`` would. It costs about 20 us per sample.

    Args:
        dataset: The map-style dataset.

    Example:
        >>> class Noisy:
        ...     def __getitem__(self, index):
        ...         return index + float(torch.rand(1))
        >>> fetch = SeededSamples(Noisy())
        >>> fetch(KeyedBatch([3, 5], (0, 0, 0, 7))) == \\
        ...     fetch(KeyedBatch([3, 5], (0, 0, 0, 7)))
        True
    """

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __call__(self, indices: Sequence[int]) -> List:
        key = getattr(indices, 'key', None)
        if key is None:
            return [self.dataset[index] for index in indices]
        samples = []
        with isolated_rng():
            for slot, index in enumerate(indices):
                seed_rng(key + (slot, ))
                samples.append(self.dataset[index])
        return samples
