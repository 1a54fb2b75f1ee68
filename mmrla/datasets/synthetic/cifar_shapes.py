"""Generate a synthetic 32x32 classification set in CIFAR's pickle format.

Each image is one circle, square or triangle (the class) in a random colour,
size, position and rotation on a textured background, drawn as in
:mod:`.shapes`. The files are the python pickles of
``cifar-10-python.tar.gz`` (or ``cifar-100-python.tar.gz``), so mmpretrain's
``CIFAR10``/``CIFAR100`` datasets and the CIFAR configs read them as they
read the real thing; labels 3..9 (3..99) are simply never used.

mmpretrain checks the MD5 sums of the official files, which synthetic files
cannot match: a config reading them sets ``dataset.download=False`` (the
repo's CIFAR configs do) and the process calls :func:`disable_md5_checks`
before building the dataset, as ``demo/cifar_shapes.py`` and the tests
do.

The command line is ``tools/dataset_converters/generate_cifar_shapes.py``.
"""
import os
import os.path as osp
import pickle
from typing import Tuple

import numpy as np

from mmrla.utils.errors import UserError
from .shapes import (CLASSES, polygon_mask, random_colour, random_polygon,
                     textured_background)

# base folder and file names of the two formats (as mmpretrain reads them)
FORMATS = {
    'cifar10':
    dict(
        folder='cifar-10-batches-py',
        train=[f'data_batch_{i}' for i in range(1, 6)],
        test='test_batch',
        meta='batches.meta',
        label_key='labels',
        names_key='label_names',
        num_classes=10),
    'cifar100':
    dict(
        folder='cifar-100-python',
        train=['train'],
        test='test',
        meta='meta',
        label_key='fine_labels',
        names_key='fine_label_names',
        num_classes=100),
}


def draw_shape(rng: np.random.Generator,
               label: int,
               size: int = 32) -> np.ndarray:
    """One RGB image (size x size x 3, uint8) showing a shape of ``label``.

    Example:
        >>> import numpy as np
        >>> draw_shape(np.random.default_rng(0), 2).shape
        (32, 32, 3)
    """
    image = textured_background(rng, size)
    mask = polygon_mask(
        random_polygon(rng, label, size, size // 5, int(size * 0.4)), size)
    image[mask] = random_colour(rng)
    return image


def make_split(num: int,
               seed: int,
               size: int = 32) -> Tuple[np.ndarray, np.ndarray]:
    """``num`` images (N x 3*size*size, CIFAR's planar RGB rows) and
    balanced labels in ``range(len(CLASSES))``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num) % len(CLASSES)
    rng.shuffle(labels)
    images = np.stack([draw_shape(rng, int(lb), size) for lb in labels])
    return images.transpose(0, 3, 1, 2).reshape(num, -1), labels


def write_cifar(root: str,
                num_train: int,
                num_test: int,
                fmt: str = 'cifar10',
                seed: int = 0) -> str:
    """Write the train and test pickles of ``fmt`` under ``root``.

    Returns:
        str: The folder holding the pickles (``root/cifar-10-batches-py``).
    """
    spec = FORMATS[fmt]
    folder = osp.join(root, spec['folder'])
    os.makedirs(folder, exist_ok=True)
    train = make_split(num_train, seed)
    test = make_split(num_test, seed + 1)
    chunks = np.array_split(np.arange(num_train), len(spec['train']))
    for name, index in zip(spec['train'], chunks):
        _dump(folder, name, train[0][index], train[1][index],
              spec['label_key'])
    _dump(folder, spec['test'], *test, spec['label_key'])
    names = list(CLASSES) + [
        f'unused_{i}' for i in range(len(CLASSES), spec['num_classes'])
    ]
    with open(osp.join(folder, spec['meta']), 'wb') as f:
        pickle.dump({spec['names_key']: names}, f)
    return folder


def _dump(folder, name, data, labels, label_key):
    with open(osp.join(folder, name), 'wb') as f:
        pickle.dump(
            {
                'data': data.astype(np.uint8),
                label_key: [int(v) for v in labels]
            }, f)


def dataset_format(dataset_type: str) -> Tuple[str, bool]:
    """Which of ``FORMATS`` a CIFAR dataset type reads, and whether it
    holds training images out for validation (takes ``num_val``, as
    mmrla's ``CIFAR10Split`` does).

    Raises:
        UserError: If the type is unknown or reads no CIFAR pickles.

    Example:
        >>> dataset_format('CIFAR100')
        ('cifar100', False)
    """
    import inspect

    import mmpretrain.datasets  # noqa: F401  (registers the types)
    from mmpretrain.registry import DATASETS
    cls = DATASETS.get(dataset_type)
    folder = getattr(cls, 'base_folder', None)
    for fmt, spec in FORMATS.items():
        if spec['folder'] == folder:
            held_out = 'num_val' in inspect.signature(cls).parameters
            return fmt, held_out
    raise UserError(f'The dataset {dataset_type} does not read CIFAR-10 or '
                    'CIFAR-100 pickles; use a config of mmpretrain\'s CIFAR10/'
                    'CIFAR100 or mmrla\'s CIFAR10Split/CIFAR100Split.')


def disable_md5_checks(setter=setattr) -> None:
    """Let mmpretrain's CIFAR datasets read files that are not the
    official ones (their MD5 sums are hard-coded).

    Args:
        setter (callable): ``setattr`` or a reversible stand-in such as
            pytest's ``monkeypatch.setattr``.
    """
    from mmpretrain.datasets import CIFAR10, CIFAR100
    for cls in (CIFAR10, CIFAR100):
        for attr in ('train_list', 'test_list'):
            setter(cls, attr, [[name, None] for name, _ in getattr(cls, attr)])
        setter(cls, 'meta', dict(cls.meta, md5=None))
