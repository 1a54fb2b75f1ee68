import io
import random

import numpy as np
import pytest
import torch

from mmrla.engine.random_state import (KeyedBatch, SeededSamples,
                                       get_rng_state, isolated_rng, seed_rng,
                                       set_rng_state)


def _draw():
    return (random.random(), random.gauss(0, 1), float(np.random.rand()),
            float(np.random.randn()), torch.rand(3).tolist())


def test_state_round_trip_through_weights_only_load():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    # A cached gaussian (python and numpy) is part of the state too.
    random.gauss(0, 1), np.random.randn()
    buffer = io.BytesIO()
    torch.save(get_rng_state(), buffer)
    expected = _draw()
    _draw(), _draw()
    buffer.seek(0)
    set_rng_state(torch.load(buffer, weights_only=True))
    assert _draw() == expected


def test_cuda_generators_of_every_device(monkeypatch):
    states = [torch.full((16, ), i, dtype=torch.uint8) for i in range(3)]
    restored = {}
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_rng_state_all', lambda: states)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 3)
    monkeypatch.setattr(torch.cuda, 'set_rng_state',
                        lambda s, device: restored.__setitem__(device, s))
    state = get_rng_state()
    assert state['cuda'] is states
    set_rng_state(state)
    assert sorted(restored) == [0, 1, 2]
    assert all(torch.equal(restored[i], states[i]) for i in range(3))

    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    with pytest.raises(
            RuntimeError,
            match='states of 3 CUDA devices, but '
            'this process sees 2.*CUDA_VISIBLE_DEVICES'):
        set_rng_state(state)


def test_no_cuda_state_before_cuda_is_used(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_initialized', lambda: False)
    assert get_rng_state()['cuda'] == []


def test_seed_rng_keys():
    seed_rng((0, 0, 1, 2, 3))
    first = _draw()
    seed_rng((0, 0, 1, 2, 3))
    assert _draw() == first
    for other in ((0, 0, 1, 2, 4), (1, 0, 1, 2, 3), (0, 1, 1, 2, 3)):
        seed_rng(other)
        assert _draw() != first


def test_seed_rng_leaves_cuda_generators_alone(monkeypatch):
    # The main process's CUDA streams (dropout on the GPU) must not be
    # reseeded by the samples it loads without workers.
    monkeypatch.setattr(torch.cuda, 'manual_seed_all',
                        lambda seed: pytest.fail('CUDA generators seeded'))
    monkeypatch.setattr(torch.cuda, 'manual_seed',
                        lambda seed: pytest.fail('CUDA generator seeded'))
    seed_rng((1, 2))


class _Augmented:
    """Every item draws from the three host generators."""

    def __getitem__(self, index):
        return (index, ) + _draw()


def test_seeded_samples_do_not_depend_on_the_generators_around_them():
    fetch = SeededSamples(_Augmented())
    batch = KeyedBatch([4, 2, 7], (0, 1, 3, 5))
    torch.manual_seed(0)
    first = fetch(batch)
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    outside = get_rng_state()
    assert fetch(batch) == first
    # The samples' draws leave the caller's streams where they were.
    assert torch.equal(torch.get_rng_state(), outside['torch'])
    assert np.random.get_state()[2] == outside['numpy']['pos']
    # Every slot has its own stream; the key's last number is the batch.
    assert len({str(sample[1:]) for sample in first}) == 3
    assert fetch(KeyedBatch([4, 2, 7], (0, 1, 3, 6))) != first
    # Plain index lists are loaded as the DataLoader would load them.
    set_rng_state(outside)
    plain = fetch([4, 2])
    set_rng_state(outside)
    assert plain == [_Augmented()[4], _Augmented()[2]]


def test_isolated_rng_restores_after_an_exception():
    before = get_rng_state()
    with pytest.raises(ValueError), isolated_rng():
        torch.rand(5), np.random.rand(), random.random()
        raise ValueError
    assert torch.equal(torch.get_rng_state(), before['torch'])
    assert random.getstate()[1] == tuple(before['python']['words'].tolist())
