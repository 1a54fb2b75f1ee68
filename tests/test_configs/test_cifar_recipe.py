"""The CIFAR recipe bases of configs/cifar/ follow RLA-Net's appendix B.1:
the 45k/5k split, Nesterov SGD for 300 epochs with lr 0.1 divided by 10 at
epochs 150 and 225, zero padding, crop and flip, per-channel normalisation
and the best-validation checkpoint."""
import functools
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmrla.datasets import CIFAR10Split, CIFAR100Split
from tests.fixtures.tiny_cifar import tiny_cifar  # noqa: F401
from tests.fixtures.tiny_cifar import tiny_cifar_root  # noqa: F401
from tests.fixtures.tiny_cifar import NUM_TEST, NUM_TRAIN

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASES = {
    'cifar10': ('cifar10_bs128_300e.py', CIFAR10Split, 'data/cifar10', 10),
    'cifar100':
    ('cifar100_bs128_300e.py', CIFAR100Split, 'data/cifar100', 100),
}


@functools.lru_cache(maxsize=None)
def _cfg(name):
    return Config.fromfile(osp.join(REPO, 'configs', '_base_', BASES[name][0]))


@pytest.mark.parametrize('name', sorted(BASES))
def test_data(name):
    cfg = _cfg(name)
    _, cls, root, num_classes = BASES[name]
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        assert loader.batch_size == 128
        assert loader.sampler.shuffle == (split == 'train')
        dataset = loader.dataset
        assert dataset.type == cls.__name__ and dataset.split == split
        assert dataset.data_root.rstrip('/') == root
        assert dataset.download is False  # nothing downloads at run time
        assert 'num_val' not in dataset  # the class default: 5,000
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert train == ['RandomCrop', 'RandomFlip', 'PackInputs']
    crop = cfg.train_dataloader.dataset.pipeline[0]
    assert crop.crop_size == 32 and crop.padding == 4
    flip = cfg.train_dataloader.dataset.pipeline[1]
    assert flip.prob == 0.5 and flip.direction == 'horizontal'
    # The original images are tested.
    for split in ('val', 'test'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        assert [t.type for t in pipeline] == ['PackInputs']
    assert cfg.data_preprocessor.num_classes == num_classes
    assert cfg.data_preprocessor.to_rgb is False  # the pickles are RGB
    assert cfg.val_evaluator.type == 'Accuracy'
    assert cfg.val_evaluator.topk == (1, )
    assert cfg.test_evaluator == cfg.val_evaluator


def test_normalisation_is_per_channel_mean_and_std():
    # RGB means and standard deviations of the 50k training images (the
    # figures of DenseNet's code: 125.3, 123.0, 113.9 and 63.0, 62.1, 66.7;
    # CIFAR-100: 129.3, 124.1, 112.4 and 68.2, 65.4, 70.4).
    expected = {
        'cifar10': ([125.3, 123.0, 113.9], [63.0, 62.1, 66.7]),
        'cifar100': ([129.3, 124.1, 112.4], [68.2, 65.4, 70.4]),
    }
    for name, (mean, std) in expected.items():
        pre = _cfg(name).data_preprocessor
        assert np.allclose(pre.mean, mean, atol=0.06)
        assert np.allclose(pre.std, std, atol=0.06)


def test_random_crop_pads_with_zeros():
    from mmpretrain.registry import TRANSFORMS
    crop = TRANSFORMS.build(
        _cfg('cifar10').train_dataloader.dataset.pipeline[0])
    image = np.full((32, 32, 3), 255, np.uint8)
    seen = set()
    np.random.seed(0)
    for _ in range(50):
        out = crop(dict(img=image.copy()))['img']
        assert out.shape == (32, 32, 3)
        values = set(np.unique(out).tolist())
        assert values <= {0, 255}
        seen |= values
    # Some crops reach into the 4-pixel border, which is black.
    assert seen == {0, 255}


@pytest.mark.parametrize('name', sorted(BASES))
def test_schedule(name):
    cfg = _cfg(name)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=300, val_interval=1)
    assert cfg.auto_scale_lr.base_batch_size == 128
    # The learning rate of each of the 300 epochs, as mmengine steps it.
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    model = torch.nn.Linear(1, 1)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    scheduler = PARAM_SCHEDULERS.build(
        dict(cfg.param_scheduler, optimizer=wrapper))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        lrs.append(wrapper.get_lr()['lr'][0])
        wrapper.step()  # no gradients: an epoch's steps, no-ops
        scheduler.step()
    assert lrs[:150] == pytest.approx([0.1] * 150)
    assert lrs[150:225] == pytest.approx([0.01] * 75)
    assert lrs[225:] == pytest.approx([0.001] * 75)


@pytest.mark.parametrize('name', sorted(BASES))
def test_best_validation_checkpoint_is_kept(name):
    checkpoint = _cfg(name).default_hooks.checkpoint
    assert checkpoint.save_best == 'accuracy/top1'
    assert checkpoint.rule == 'greater'
    assert checkpoint.interval == 1


@pytest.mark.parametrize('name', sorted(BASES))
def test_custom_imports_register_the_datasets(name):
    imports = _cfg(name).custom_imports
    assert 'mmrla.datasets' in imports.imports
    assert 'mmrla.models' in imports.imports
    assert imports.allow_failed_imports is False


def test_config_datasets_build_on_tiny_data(tiny_cifar):  # noqa: F811
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    cfg = _cfg('cifar10')
    init_default_scope(cfg.default_scope)
    sizes = {}
    for split in ('train', 'val', 'test'):
        dataset = DATASETS.build(
            dict(
                cfg[f'{split}_dataloader'].dataset,
                data_root=tiny_cifar,
                num_val=3))
        assert type(dataset) is CIFAR10Split
        sizes[split] = len(dataset)
        # The pipeline runs: a packed 3x32x32 image.
        assert dataset[0]['inputs'].shape == (3, 32, 32)
    assert sizes == dict(train=NUM_TRAIN - 3, val=3, test=NUM_TEST)


def test_config_dumps_and_reloads(tmp_path):
    cfg = _cfg('cifar10')
    path = tmp_path / 'dumped.py'
    cfg.dump(str(path))
    again = Config.fromfile(str(path))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'optim_wrapper', 'param_scheduler', 'default_hooks',
                'data_preprocessor'):
        assert again[key] == cfg[key], key
