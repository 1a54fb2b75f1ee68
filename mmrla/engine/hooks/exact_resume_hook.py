"""Resume a training run as if it had never stopped."""
from typing import List, Optional

from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmrla.registry import HOOKS
from ..random_state import get_rng_state, set_rng_state
from ..resumable_loader import ResumableIterator, build_resumable_loader

CHECKPOINT_KEY = 'exact_resume'


def _number_batches_from(loop: EpochBasedTrainLoop, first: int) -> None:
    """Make ``loop`` number the batches of the current epoch from
    ``first``.

    ``EpochBasedTrainLoop`` numbers an epoch's batches as it iterates them
    (``enumerate``), so after a resume that skipped the first ``first``
    batches it would call them 0, 1, ...: the log would read ``[3][1/4]``
    where the uninterrupted run reads ``[3][3/4]``, and the hooks that act
    on the batch index (the end of an epoch, every n batches) would act at
    the wrong batches. The loop's own ``run_iter`` is called with the
    batch's place in the whole epoch; ``after_train_epoch`` removes this
    instance attribute again.
    """
    run_iter = type(loop).run_iter

    def run_iter_from(idx, data_batch):
        return run_iter(loop, idx + first, data_batch)

    loop.run_iter = run_iter_from


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Make a resumed run end with the weights of an uninterrupted one.

    mmengine's checkpoints hold the weights, the optimizer, the schedulers
    and the iteration, but not the random number generators: on resume it
    seeds them afresh, so anchor and RoI sampling, dropout and the data
    augmentation draw different numbers than they would have. This hook

    - saves, with every checkpoint, the states of python's ``random``,
      numpy's and torch's CPU generators and every CUDA device's generator,
      of every process of a distributed run (key ``'exact_resume'``), and
      puts them back before the first iteration after ``--resume``;
    - saves where the data stands (epoch and batches of it done) and, on
      resume, skips the batches trained on without loading them, also in
      the middle of an epoch (mmengine restarts the epoch of an
      iteration-interval checkpoint, and replays every batch of an
      ``IterBasedTrainLoop``);
    - seeds the data pipeline for every sample from ``(seed, rank, epoch,
      batch, slot)`` (:class:`~mmrla.engine.random_state.SeededSamples`),
      so augmentation does not depend on which worker loads a sample or on
      what it loaded before: persistent workers, restarted workers and no
      workers at all give the same batches;
    - numbers the batches of a resumed epoch by their place in the epoch,
      as the uninterrupted run numbered them (log lines, hooks acting every
      n batches or at the end of the epoch);
    - keeps validation from drawing from the training generators, so the
      validations an interrupted run skips or repeats change nothing.

    The checkpoint entry is ``dict(version=1, rng=[states of rank 0, rank
    1, ...], data=dict(epoch=pass over the data, batches=batches of it
    trained on, sampler_seed=...))``, made of tensors and plain python
    values, which ``torch.load(..., weights_only=True)`` accepts; code that
    does not know the key (plain mmengine, mmpretrain, mmdet) ignores it.
    docs/training.md shows how a config adds it. With the hook, a run
    draws different (equally random) numbers than the same config without
    it, and resuming from a checkpoint saved without
    it falls back to mmengine's behaviour, with a warning.
    """

    # Between the hooks of an iteration (NORMAL) and CheckpointHook
    # (VERY_LOW): the generators are captured after the former drew from
    # them and before the latter saves.
    priority = 'LOW'

    def __init__(self) -> None:
        self._loaded: Optional[tuple] = None
        self._pending_rng: Optional[dict] = None
        self._val_rng: Optional[dict] = None
        self._gathered: Optional[tuple] = None
        self._skip = 0
        self._pass = 0
        self._done = 0
        self._loader = None
        self._iterator: Optional[ResumableIterator] = None

    # Resume -----------------------------------------------------------

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Called for `load_from` too; before_train tells them apart.
        self._loaded = (checkpoint.get('meta',
                                       {}), checkpoint.get(CHECKPOINT_KEY))

    def _resumed_state(self, runner) -> Optional[dict]:
        """The hook's entry of the checkpoint this run resumes from."""
        if self._loaded is None:
            return None
        meta, state = self._loaded
        self._loaded = None
        if not (runner.iter > 0 and meta.get('iter') == runner.iter):
            return None  # weights loaded with `load_from`, not a resume
        if state is None or state.get('version') != 1:
            print_log(
                'ExactResumeHook: the checkpoint was saved without this '
                'hook (or a newer one), so the random generators are seeded '
                'afresh and the data restarts as mmengine does it; the run '
                'will not end as an uninterrupted one would.',
                logger='current',
                level='WARNING')
            return None
        return state

    def _rng_of_this_rank(self, state: dict) -> Optional[dict]:
        rank, world_size = get_dist_info()
        saved = state['rng']
        if len(saved) == world_size:
            return saved[rank]
        print_log(
            f'ExactResumeHook: the checkpoint holds the generator states '
            f'of {len(saved)} processes and this run has {world_size}; '
            'the generators stay seeded as mmengine seeds them.',
            logger='current',
            level='WARNING')
        return None

    def before_train(self, runner) -> None:
        state = self._resumed_state(runner)
        if state is not None:
            self._pending_rng = self._rng_of_this_rank(state)
        data = state['data'] if state is not None else None
        loop = runner.train_loop
        if not isinstance(loop, (EpochBasedTrainLoop, IterBasedTrainLoop)):
            print_log(
                f'ExactResumeHook: {type(loop).__name__} is neither an '
                'EpochBasedTrainLoop nor an IterBasedTrainLoop; only the '
                'random generators are saved and restored.',
                logger='current',
                level='WARNING')
            return
        loader = build_resumable_loader(
            runner,
            loop.dataloader,
            runner.seed,
            sampler_seed=data['sampler_seed'] if data else None)
        if loader is None:
            print_log(
                'ExactResumeHook: the training dataloader has no batch '
                'sampler; only the random generators are saved and '
                'restored.',
                logger='current',
                level='WARNING')
            return
        loop.dataloader = self._loader = loader
        if isinstance(loop, IterBasedTrainLoop):
            start = (data['epoch'], data['batches']) if data else (0, 0)
            # Without saved data, let mmengine replay the batches (load
            # them) as it would without the hook.
            self._iterator = loop.dataloader_iterator = ResumableIterator(
                loader, *start, replay=runner.iter if data else 0)
        elif data is not None and data['epoch'] == runner.epoch:
            self._skip = data['batches']

    def before_train_epoch(self, runner) -> None:
        if self._loader is None or self._iterator is not None:
            return
        self._pass, self._done = runner.epoch, self._skip
        self._loader.batch_sampler.start_pass(runner.epoch, skip=self._skip)
        if self._skip:
            _number_batches_from(runner.train_loop, self._skip)
        self._skip = 0

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._iterator is not None and self._iterator.replay:
            raise RuntimeError(
                'ExactResumeHook expected IterBasedTrainLoop to advance the '
                f'data by {runner.iter} batches on resume, as mmengine '
                f'0.10 does, but it advanced it by '
                f'{runner.iter - self._iterator.replay}.')
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None

    def after_train(self, runner) -> None:
        # End the persistent workers of the loader built here while their
        # queues exist: when the loader is garbage-collected later (at exit,
        # in a reference cycle with the runner), PyTorch waits 5 s for each
        # worker before it kills it.
        if self._loader is not None:
            self._loader._iterator = None
        if self._iterator is not None:
            self._iterator.close()

    # Save -------------------------------------------------------------

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        self._done += 1
        if self._checkpoint_due(runner, by_epoch=False):
            self._gather_rng(runner)

    def after_train_epoch(self, runner) -> None:
        # Back to the class's run_iter (see _number_batches_from).
        vars(runner.train_loop).pop('run_iter', None)
        self._pass, self._done = self._pass + 1, 0
        if self._checkpoint_due(runner, by_epoch=True):
            self._gather_rng(runner)

    def before_val(self, runner) -> None:
        self._val_rng = get_rng_state()
        # CheckpointHook may save the best checkpoint after validation.
        if any(
                getattr(hook, 'save_best', None) for hook in runner.hooks
                if isinstance(hook, CheckpointHook)):
            self._gather_rng(runner)

    def after_val(self, runner) -> None:
        if self._val_rng is not None:
            set_rng_state(self._val_rng)
            self._val_rng = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        data = None
        if self._loader is not None:
            if self._iterator is not None:
                data = dict(
                    epoch=self._iterator.pass_index,
                    batches=self._iterator.batches)
            else:
                data = dict(epoch=self._pass, batches=self._done)
            data['sampler_seed'] = getattr(self._loader.batch_sampler.sampler,
                                           'seed', None)
        checkpoint[CHECKPOINT_KEY] = dict(
            version=1, rng=self._rng_to_save(runner), data=data)

    def _marker(self, runner) -> tuple:
        return runner.epoch, runner.iter, self._val_rng is not None

    def _training_rng(self) -> dict:
        # While validating, the training generators are the ones put aside.
        return self._val_rng if self._val_rng is not None else \
            get_rng_state()

    def _checkpoint_due(self, runner, by_epoch: bool) -> bool:
        """Whether a CheckpointHook saves at the end of this iteration (or
        epoch), by its own rule."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or \
                    hook.by_epoch != by_epoch:
                continue
            if by_epoch:
                due = hook.every_n_epochs(
                    runner, hook.interval,
                    hook.save_begin) or (hook.save_last
                                         and hook.is_last_train_epoch(runner))
            else:
                due = hook.every_n_train_iters(
                    runner, hook.interval,
                    hook.save_begin) or (hook.save_last
                                         and hook.is_last_train_iter(runner))
            if due:
                return True
        return False

    def _gather_rng(self, runner) -> None:
        """Collect every rank's generator states on every rank.

        Only rank 0 saves, and ``Runner.save_checkpoint`` (with its
        ``before_save_checkpoint`` call) runs there alone, so the other
        ranks hand their states over beforehand, at a point every rank
        reaches. A single process has nothing to gather.
        """
        if get_dist_info()[1] > 1:
            self._gathered = (self._marker(runner),
                              all_gather_object(self._training_rng()))

    def _rng_to_save(self, runner) -> List[dict]:
        world_size = get_dist_info()[1]
        if world_size == 1:
            return [self._training_rng()]
        if self._gathered is not None and \
                self._gathered[0] == self._marker(runner):
            return self._gathered[1]
        print_log(
            'ExactResumeHook: this checkpoint is saved at a point where the '
            'hook did not expect one, so it holds the generator states of '
            'rank 0 only; resuming from it seeds the generators afresh.',
            logger='current',
            level='WARNING')
        return [self._training_rng()]
