"""Generate a synthetic 32x32 classification set in CIFAR's pickle format.

Each image is one circle, square or triangle (the class) in a random colour,
size, position and rotation on a textured background, drawn as in
:mod:`.shapes`. The files are the python pickles of
``cifar-10-python.tar.gz`` (or ``cifar-100-python.tar.gz``), so mmpretrain's
``CIFAR10``/``CIFAR100`` datasets and the CIFAR configs read them as they
read the real thing; labels 3..9 (3..99) are simply never used.

mmpretrain checks the MD5 sums of the official files, which synthetic files
cannot match. :func:`write_cifar` therefore lists the MD5 sums of the files
it writes in ``generated_md5.json`` beside them, and ``tools/train.py``,
``tools/test.py`` and the other tools (:func:`accept_generated_cifar`) turn
mmpretrain's checks off for a folder whose files still match that list;
other folders are checked against the official sums, with one line naming
the fix when they differ. A config reading them sets
``dataset.download=False`` (the repo's CIFAR configs do).

The command line is ``tools/dataset_converters/generate_cifar_shapes.py``.
"""
import hashlib
import json
import os
import os.path as osp
import pickle
from typing import Optional, Sequence, Tuple

import numpy as np

from mmrla.errors import UserError
from .shapes import (CLASSES, polygon_mask, random_colour, random_polygon,
                     textured_background)

# The MD5 sums of the files write_cifar wrote, beside them.
MANIFEST = 'generated_md5.json'

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
    files = spec['train'] + [spec['test'], spec['meta']]
    with open(osp.join(folder, MANIFEST), 'w') as f:
        json.dump({name: _md5(osp.join(folder, name)) for name in files}, f)
    return folder


def write_image_folders(root: str,
                        num_train: int,
                        num_val: int,
                        num_test: int,
                        seed: int = 0,
                        size: int = 32) -> str:
    """Write the shapes as PNG files in a folder per split and class
    (``root/{train,val,test}/{circle,square,triangle}/N.png``), the layout
    of ``configs/own_data/r110rla_b128_own_cifar_folder.py``.

    Returns:
        str: ``root``.
    """
    import cv2
    for offset, (split, num) in enumerate(
            zip(('train', 'val', 'test'), (num_train, num_val, num_test))):
        images, labels = make_split(num, seed + offset, size)
        images = images.reshape(num, 3, size, size).transpose(0, 2, 3, 1)
        for index, (image, label) in enumerate(zip(images, labels)):
            folder = osp.join(root, split, CLASSES[label])
            os.makedirs(folder, exist_ok=True)
            # cv2 writes BGR; the arrays are RGB.
            cv2.imwrite(
                osp.join(folder, f'{index:05d}.png'),
                np.ascontiguousarray(image[..., ::-1]))
    return root


def _md5(path: str) -> str:
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def generated_folder(folder: str) -> Optional[bool]:
    """Whether ``folder`` holds CIFAR pickles that :func:`write_cifar`
    wrote, unchanged since.

    Returns:
        bool or None: True if the folder's ``generated_md5.json`` lists
        every file's MD5 sum as it is now, False if a listed file differs
        or is missing, None without the list (e.g. the official files).
    """
    path = osp.join(folder, MANIFEST)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        sums = json.load(f)
    return all(
        osp.isfile(osp.join(folder, name))
        and _md5(osp.join(folder, name)) == md5 for name, md5 in sums.items())


def accept_generated_cifar(cfg, splits: Sequence[str]) -> None:
    """Let mmpretrain's CIFAR datasets of ``cfg`` read generated files.

    For each dataset of the given dataloaders that reads CIFAR pickles
    (mmpretrain's ``CIFAR10``/``CIFAR100`` and their subclasses), the
    folder's files are checked here: files that :func:`write_cifar` wrote
    (unchanged) make this process skip mmpretrain's MD5 checks of the
    official sums (:func:`disable_md5_checks`); any other file must have
    its official sum.

    Args:
        cfg (Config): A runner config.
        splits (Sequence[str]): Dataloaders to check, e.g. ``('test', )``.

    Raises:
        UserError: Naming a generated file changed since, or a file that is
            neither generated nor official, and how to get good files.
    """
    from ..dataset_cfg import dataset_cfgs, dataset_class, join_root
    generated = official = 0
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        for dataset in dataset_cfgs(loader.get('dataset') if loader else None):
            cls = dataset_class(dataset)
            fmt = next((k for k, v in FORMATS.items()
                        if v['folder'] == getattr(cls, 'base_folder', None)),
                       None)
            if fmt is None:
                continue
            folder = join_root(dataset.get('data_root') or '', cls.base_folder)
            if '://' in folder or not osp.isdir(folder):
                continue  # check_data_paths names missing data
            state = generated_folder(folder)
            regenerate = ('tools/dataset_converters/generate_cifar_shapes.py '
                          f'{dataset.get("data_root") or "."} --format {fmt}')
            if state is False:
                raise UserError(
                    f'The generated CIFAR files in {folder} changed after '
                    f'they were written (they differ from {MANIFEST}); '
                    f'write them again: python {regenerate}.')
            if state:
                generated += 1
                continue
            for name, md5 in _official_md5(cls).items():
                path = osp.join(folder, name)
                if md5 and osp.isfile(path) and _md5(path) != md5:
                    raise UserError(
                        f'{path} is not the official {cls.__name__} file '
                        '(its MD5 sum differs). Download and unpack '
                        f'{cls.filename} again from {cls.url}, or, for '
                        f'synthetic data, write it with python {regenerate}.')
            official += 1
    if generated and official:
        raise UserError(
            'The config reads generated CIFAR files and official ones; '
            'mmpretrain checks the MD5 sums of the official files in all '
            'of its datasets, so point every split at the same kind.')
    if generated:
        disable_md5_checks()


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


# The official MD5 sums by CIFAR base folder, kept before
# disable_md5_checks removes them from mmpretrain's classes.
_OFFICIAL = {}


def _official_md5(cls) -> dict:
    """``{file name: official MD5}`` of a CIFAR dataset class."""
    if cls.base_folder not in _OFFICIAL:
        entries = cls.train_list + cls.test_list + [[
            cls.meta['filename'], cls.meta['md5']
        ]]
        _OFFICIAL[cls.base_folder] = {name: md5 for name, md5 in entries}
    return _OFFICIAL[cls.base_folder]


def disable_md5_checks(setter=setattr) -> None:
    """Let mmpretrain's CIFAR datasets read files that are not the
    official ones (their MD5 sums are hard-coded).

    Args:
        setter (callable): ``setattr`` or a reversible stand-in such as
            pytest's ``monkeypatch.setattr``.
    """
    from mmpretrain.datasets import CIFAR10, CIFAR100
    for cls in (CIFAR10, CIFAR100):
        _official_md5(cls)
        for attr in ('train_list', 'test_list'):
            setter(cls, attr, [[name, None] for name, _ in getattr(cls, attr)])
        setter(cls, 'meta', dict(cls.meta, md5=None))
