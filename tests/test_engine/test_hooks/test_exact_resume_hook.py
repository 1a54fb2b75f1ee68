"""ExactResumeHook on a toy model whose training and data pipeline draw from
every host generator, in mmengine's epoch- and iteration-based loops.

A run resumed from a checkpoint must see the batches (augmentation
included) that the uninterrupted run saw after that checkpoint, and end
with the same weights. The detector and distributed cases, with killed
processes, are in tests/test_tools/test_exact_resume.py.
"""
import io
import pickletools
import random
import zipfile

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS
from mmengine.runner import Runner, load_checkpoint
from mmengine.utils import import_modules_from_strings
from torch import nn
from torch.utils.data import Dataset

from mmrla.engine import ExactResumeHook
from mmrla.engine.hooks.exact_resume_hook import CHECKPOINT_KEY
from mmrla.engine.safe_load import load_checkpoint_file


@DATASETS.register_module(name='ToyResumeData', force=True)
class _ToyData(Dataset):
    """Items are augmented with draws from python, numpy and torch."""

    metainfo = dict(classes=('toy', ))

    def __init__(self, size: int = 10) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        noise = torch.rand(4) + np.random.rand() + random.random()
        return dict(inputs=torch.full((4, ), float(index)) + noise)

    def get_data_info(self, index: int) -> dict:
        """Image sizes for mmdet's AspectRatioBatchSampler."""
        return dict(width=5 if index % 3 == 0 else 10, height=7)


@MODELS.register_module(name='ToyResumeModel', force=True)
class _ToyModel(BaseModel):
    """Samples its inputs (as detectors sample RoIs), uses dropout and
    scales its loss randomly; remembers the training batches it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)
        keep = torch.randperm(len(x))[:max(1, len(x) - 1)]
        out = nn.functional.dropout(
            self.linear(x[keep]), 0.5, training=self.training)
        if mode == 'loss':
            self.seen.append(x)
            scale = np.random.uniform(0.5, 1.5) * random.uniform(0.5, 1.5)
            return dict(loss=(out**2).mean() * scale)
        return [dict(score=float(out.sum()))]


@METRICS.register_module(name='ToyResumeMetric', force=True)
class _ToyMetric(BaseMetric):

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(d['score'] for d in data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(score=sum(results))


@HOOKS.register_module(name='ToyBatchIndexHook', force=True)
class _BatchIndexHook(Hook):
    """Records ``(epoch, batch_idx)`` of every training iteration."""

    def __init__(self) -> None:
        self.seen = []

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        self.seen.append((runner.epoch, batch_idx))


def _run(work_dir,
         name,
         loop,
         checkpoint,
         loader=None,
         hook=True,
         resume_from=None,
         randomness=dict(seed=0),
         extra_hooks=()):
    train_loader = dict(
        dataset=dict(type='ToyResumeData'),
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_size=3,
        num_workers=0)
    train_loader.update(loader or {})
    cfg = Config(
        dict(
            model=dict(type='ToyResumeModel'),
            work_dir=str(work_dir),
            experiment_name=name,
            # No DefaultScope instance, which would outlive the test and
            # send later builds to mmengine's registries.
            default_scope=None,
            train_dataloader=train_loader,
            train_cfg=loop,
            val_dataloader=dict(
                dataset=dict(type='ToyResumeData'),
                sampler=dict(type='DefaultSampler'),
                batch_size=3),
            val_cfg=dict(),
            val_evaluator=dict(type='ToyResumeMetric'),
            optim_wrapper=dict(
                optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', **checkpoint),
                logger=dict(type='LoggerHook', interval=100)),
            custom_hooks=([dict(type='ExactResumeHook')] if hook else []) +
            list(extra_hooks),
            randomness=randomness,
            log_level='WARNING',
            resume=resume_from is not None,
            load_from=resume_from))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


# 10 items in batches of 3: 4 iterations per epoch (or pass of the data).
EPOCHS = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
ITERS = dict(type='IterBasedTrainLoop', max_iters=11, val_interval=4)
BY_ITER = dict(by_epoch=False, interval=5)

WORKERS = dict(num_workers=2, persistent_workers=True)


@pytest.mark.parametrize(
    'loop, checkpoint, loader, randomness, resume, position',
    [
        pytest.param(
            EPOCHS,
            BY_ITER, {},
            dict(seed=0),
            'iter_5.pth', (1, 1),
            id='mid-epoch'),  # mmengine would restart epoch 1 (0-based)
        pytest.param(
            EPOCHS,
            BY_ITER,
            WORKERS,
            dict(seed=0),
            'iter_5.pth', (1, 1),
            id='persistent-workers'),
        pytest.param(
            EPOCHS,
            BY_ITER, {},
            dict(seed=None, diff_rank_seed=True),
            'iter_5.pth', (1, 1),
            id='random-sampler-seed'),  # each run draws the sampler's seed
        pytest.param(
            EPOCHS,
            dict(by_epoch=True, interval=1), {},
            dict(seed=0),
            'epoch_1.pth', (1, 0),
            id='epoch-end'),  # the resumed run skips the validation after it
        pytest.param(
            ITERS,
            dict(by_epoch=False, interval=4), {},
            dict(seed=0),
            'iter_4.pth', (0, 4),
            id='iter-loop-pass-end'),  # ... and here too
        pytest.param(
            ITERS,
            BY_ITER,
            dict(
                WORKERS,
                num_workers=1,
                batch_sampler=dict(type='mmdet.AspectRatioBatchSampler')),
            dict(seed=0),
            'iter_10.pth',
            (2, 2),
            # The worker of the loop's own iterator took batches from the
            # stateful batch sampler before the hook could replace it.
            id='iter-loop-workers'),
    ])
def test_resumed_run_ends_as_uninterrupted(tmp_path, loop, checkpoint, loader,
                                           randomness, resume, position):
    full = _run(
        tmp_path / 'full',
        'full',
        loop,
        checkpoint,
        loader,
        randomness=randomness)
    saved = torch.load(tmp_path / 'full' / resume, weights_only=False)
    data = saved[CHECKPOINT_KEY]['data']
    assert (data['epoch'], data['batches']) == position
    start = saved['meta']['iter']
    resumed = _run(
        tmp_path / 'resumed',
        'resumed',
        loop,
        checkpoint,
        loader,
        resume_from=str(tmp_path / 'full' / resume),
        randomness=randomness)
    assert resumed.iter == full.iter == loop.get('max_iters', 12)
    # The rebuilt loader still tells its batch size (PreciseBNHook reads it).
    assert resumed.train_dataloader.batch_size == 3
    # The same batches, augmentation included, after the checkpoint ...
    assert len(resumed.model.seen) == len(full.model.seen) - start
    for ours, theirs in zip(resumed.model.seen, full.model.seen[start:]):
        assert torch.equal(ours, theirs)
    # ... and the same weights.
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def _batch_indices(runner) -> list:
    hook, = [h for h in runner.hooks if isinstance(h, _BatchIndexHook)]
    return hook.seen


def test_resumed_epoch_numbers_its_batches_as_the_uninterrupted_run(tmp_path):
    # iter_5.pth: epoch 1 (0-based) has 1 of its 4 batches done.
    record = [dict(type='ToyBatchIndexHook')]
    full = _run(tmp_path / 'full', 'full', EPOCHS, BY_ITER, extra_hooks=record)
    resumed = _run(
        tmp_path / 'resumed',
        'resumed',
        EPOCHS,
        BY_ITER,
        resume_from=str(tmp_path / 'full' / 'iter_5.pth'),
        extra_hooks=record)
    assert _batch_indices(full) == [(e, b) for e in range(3) for b in range(4)]
    assert _batch_indices(resumed) == _batch_indices(full)[5:]
    # The loop's own run_iter is back for the epochs after the resumed one.
    assert 'run_iter' not in vars(resumed.train_loop)


@pytest.mark.parametrize('library', ['mmdet', 'mmpretrain'])
def test_hook_builds_from_the_libraries_registries(library):
    # As their runners build custom_hooks (after custom_imports).
    registry = import_modules_from_strings(f'{library}.registry')
    hook = registry.HOOKS.build(dict(type='ExactResumeHook'))
    assert isinstance(hook, ExactResumeHook)


def test_without_the_hook_resume_is_not_exact(tmp_path):
    # The check above is sensitive: mmengine alone re-seeds on resume.
    full = _run(tmp_path / 'full', 'plain_full', EPOCHS, BY_ITER, hook=False)
    resumed = _run(
        tmp_path / 'resumed',
        'plain_resumed',
        EPOCHS,
        BY_ITER,
        hook=False,
        resume_from=str(tmp_path / 'full' / 'iter_5.pth'))
    assert not torch.equal(full.model.linear.weight,
                           resumed.model.linear.weight)


def _pickled_globals(path) -> set:
    """The classes and functions a checkpoint's pickle refers to."""
    with zipfile.ZipFile(path) as archive:
        data = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        return {
            arg
            for op, arg, _ in pickletools.genops(archive.read(data))
            if op.name == 'GLOBAL'
        }


def test_checkpoints_stay_plain_mmengine_checkpoints(tmp_path):
    _run(tmp_path / 'hook', 'compat_hook', EPOCHS, BY_ITER)
    _run(tmp_path / 'plain', 'compat_plain', EPOCHS, BY_ITER, hook=False)
    path = tmp_path / 'hook' / 'iter_5.pth'
    checkpoint = torch.load(path, weights_only=False)
    # The hook's entry loads with weights_only=True on its own, and adds
    # nothing to the checkpoint that weights_only=True rejects: mmengine's
    # own entries need more (its HistoryBuffer, numpy arrays).
    buffer = io.BytesIO()
    torch.save(checkpoint[CHECKPOINT_KEY], buffer)
    buffer.seek(0)
    entry = torch.load(buffer, weights_only=True)
    assert entry['rng'][0]['torch'].dtype == torch.uint8
    added = _pickled_globals(path) - _pickled_globals(
        tmp_path / 'plain' / 'iter_5.pth')
    assert added <= {'torch ByteStorage', 'torch LongStorage'}
    # The whole checkpoint loads weights-only with mmrla's allowlist.
    assert load_checkpoint_file(str(path))[CHECKPOINT_KEY].keys() == \
        checkpoint[CHECKPOINT_KEY].keys()
    # The weights load as mmdet's and mmpretrain's APIs load them ...
    model = _ToyModel()
    load_checkpoint(model, str(path))
    assert torch.equal(model.linear.weight,
                       checkpoint['state_dict']['linear.weight'])
    # ... and a runner without the hook resumes from the checkpoint.
    plain = _run(
        tmp_path / 'resumed',
        'compat_resumed',
        EPOCHS,
        BY_ITER,
        hook=False,
        resume_from=str(path))
    # mmengine alone restarts the interrupted epoch: 5 + 4 + 4 iterations.
    assert plain.iter == 13
