"""CIFAR10Split / CIFAR100Split: RLA-Net's 45k/5k train/validation split,
checked on tiny CIFAR-format pickles (16 training and 8 test images)."""
import os.path as osp
import pickle

import numpy as np
import pytest

from mmrla.datasets import CIFAR10Split, CIFAR100Split
from mmrla.datasets.cifar_split import held_out_slice
from mmrla.datasets.synthetic import FORMATS, write_cifar
from tests.fixtures.tiny_cifar import tiny_cifar  # noqa: F401
from tests.fixtures.tiny_cifar import tiny_cifar_root  # noqa: F401
from tests.fixtures.tiny_cifar import NUM_TEST, NUM_TRAIN

NUM_VAL = 4


def _images(dataset):
    return [info['img'].tobytes() for info in dataset.load_data_list()]


def _labels(dataset):
    return [info['gt_label'] for info in dataset.load_data_list()]


def _file_images(root, fmt, names):
    """Images (as bytes, HWC like mmpretrain) and labels of CIFAR pickle
    files, in file order."""
    spec = FORMATS[fmt]
    images, labels = [], []
    for name in names:
        with open(osp.join(root, spec['folder'], name), 'rb') as f:
            entry = pickle.load(f)
        data = entry['data'].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        images += [np.ascontiguousarray(img).tobytes() for img in data]
        labels += entry[spec['label_key']]
    return images, labels


@pytest.fixture
def cifar10(tiny_cifar):  # noqa: F811
    """The tiny CIFAR-10 root and a builder of its splits."""

    def build(split, **kwargs):
        kwargs.setdefault('num_val', NUM_VAL)
        return CIFAR10Split(tiny_cifar, split=split, download=False, **kwargs)

    return tiny_cifar, build


def test_split_sizes(cifar10):
    _, build = cifar10
    sizes = {s: len(build(s)) for s in ('train', 'val', 'trainval', 'test')}
    assert sizes == dict(
        train=NUM_TRAIN - NUM_VAL,
        val=NUM_VAL,
        trainval=NUM_TRAIN,
        test=NUM_TEST)


def test_train_and_val_partition_trainval_in_file_order(cifar10):
    root, build = cifar10
    train, val = build('train'), build('val')
    trainval = build('trainval')
    assert _images(train) + _images(val) == _images(trainval)
    assert _labels(train) + _labels(val) == _labels(trainval)
    # Disjoint: no training image is validated on (the synthetic images
    # are all different, so equal bytes would mean the same image).
    assert len(set(_images(trainval))) == NUM_TRAIN
    assert not set(_images(train)) & set(_images(val))
    # trainval is the official training files in order, and val their end.
    images, labels = _file_images(root, 'cifar10', FORMATS['cifar10']['train'])
    assert _images(trainval) == images and _labels(trainval) == labels
    assert _images(val) == images[-NUM_VAL:]


def test_val_is_the_end_of_the_last_file(cifar10):
    # The tiny files hold 4, 3, 3, 3, 3 images; on the real set the last
    # 5,000 of data_batch_5's 10,000 are held out the same way.
    root, build = cifar10
    last, _ = _file_images(root, 'cifar10', ['data_batch_5'])
    assert _images(build('val', num_val=len(last))) == last


def test_test_split_is_the_test_file(cifar10):
    root, build = cifar10
    images, labels = _file_images(root, 'cifar10', ['test_batch'])
    test = build('test')
    assert _images(test) == images and _labels(test) == labels
    # num_val only cuts the training images.
    assert len(build('test', num_val=NUM_TEST)) == NUM_TEST


def test_split_is_deterministic(cifar10):
    _, build = cifar10
    first = _images(build('val'))
    np.random.seed(123)
    __import__('random').seed(123)
    assert _images(build('val')) == first


def test_default_is_the_papers_45k_5k():
    assert held_out_slice(50000, 'train') == slice(0, 45000)
    assert held_out_slice(50000, 'val') == slice(45000, 50000)
    assert held_out_slice(50000, 'trainval') == slice(0, 50000)


@pytest.mark.parametrize('num_val', [0, -1, True, 2.5, '5000'])
def test_bad_num_val_is_refused(cifar10, num_val):
    _, build = cifar10
    with pytest.raises(
            ValueError,
            match='CIFAR10Split: num_val must be a '
            f'positive int, got {num_val!r}'):
        build('train', num_val=num_val)


def test_num_val_leaving_no_training_image_is_refused(cifar10):
    _, build = cifar10
    with pytest.raises(
            ValueError,
            match=f'CIFAR10Split: num_val={NUM_TRAIN} leaves none of the '
            f'{NUM_TRAIN} training images for training; set dataset.num_val'):
        build('val', num_val=NUM_TRAIN)
    # The default 5,000 is too many for the tiny set, and says so.
    with pytest.raises(ValueError, match='num_val=5000 leaves none of the'):
        CIFAR10Split(cifar10[0], split='train', download=False)


def test_unknown_split_is_refused(cifar10):
    _, build = cifar10
    with pytest.raises(
            ValueError, match="split must be one of .*'val'.*"
            "got 'valid'"):
        build('valid')


def test_repr_names_the_split(cifar10):
    _, build = cifar10
    text = repr(build('val'))
    assert text.startswith('Dataset CIFAR10Split')
    assert f'Number of samples: \t{NUM_VAL}' in text
    assert f'Split: \tval (the last {NUM_VAL} training images)' in text


def test_cifar100(tmp_path, tiny_cifar):  # noqa: F811
    # tiny_cifar turns mmpretrain's MD5 checks off for the test.
    root = str(tmp_path)
    write_cifar(root, 12, 6, 'cifar100')

    def build(split):
        return CIFAR100Split(root, split=split, num_val=5, download=False)

    train, val, test = build('train'), build('val'), build('test')
    assert (len(train), len(val), len(test)) == (7, 5, 6)
    images, labels = _file_images(root, 'cifar100', ['train'])
    assert _images(train) + _images(val) == images
    assert _labels(train) + _labels(val) == labels
    assert _images(test) == _file_images(root, 'cifar100', ['test'])[0]
    assert len(train.metainfo['classes']) == 100


def test_types_are_found_from_mmpretrain_and_mmengine_scopes():
    from mmengine.registry import DATASETS as ROOT
    from mmpretrain.registry import DATASETS
    assert DATASETS.get('CIFAR10Split') is CIFAR10Split
    assert DATASETS.get('CIFAR100Split') is CIFAR100Split
    assert ROOT.get('CIFAR10Split') is CIFAR10Split
