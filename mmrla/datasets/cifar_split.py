"""CIFAR-10/100 with the 45k/5k train/validation split of RLA-Net.

The paper (section 4.1, appendix B.1) trains on 45k of the official 50k
training images, keeps the model with the best accuracy on the other 5k and
reports its error on the official 10k test images. Which 5k it held out is
not said; here it is the last ``num_val`` images of the official training
files in file order (images 45,000-49,999: the second half of
``data_batch_5`` for CIFAR-10, the end of ``train`` for CIFAR-100), so the
split is the same on every machine and needs no random seed. The official
files are in random order, so the held-out images are a random sample of
the training set, close to (not exactly) 500 per class on CIFAR-10.
"""
from typing import List

from mmpretrain.datasets import CIFAR10, CIFAR100

from mmrla.registry import DATASETS

SPLITS = ('train', 'val', 'trainval', 'test')


def held_out_slice(num_images: int, split: str, num_val: int = 5000) -> slice:
    """The images of ``split`` among the ``num_images`` images it is cut
    from: the official training images for ``'train'``, ``'val'`` and
    ``'trainval'``, the official test images for ``'test'``.

    Args:
        num_images (int): Images in the official file(s) read.
        split (str): One of ``'train'`` (all but the last ``num_val``),
            ``'val'`` (the last ``num_val``), ``'trainval'`` or ``'test'``
            (all).
        num_val (int): Size of the validation split. Defaults to 5000.

    Returns:
        slice: The positions of the split's images in file order.

    Raises:
        ValueError: If ``split`` is unknown, or ``num_val`` leaves no
            training image.

    Example:
        >>> held_out_slice(50000, 'train')
        slice(0, 45000, None)
        >>> held_out_slice(50000, 'val')
        slice(45000, 50000, None)
        >>> held_out_slice(10000, 'test')
        slice(0, 10000, None)
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')
    if split in ('trainval', 'test'):
        return slice(0, num_images)
    if num_val >= num_images:
        raise ValueError(
            f'num_val={num_val} leaves none of the {num_images} training '
            'images for training; set dataset.num_val to fewer images.')
    cut = num_images - num_val
    return slice(0, cut) if split == 'train' else slice(cut, num_images)


class _HeldOutSplit:
    """Adds ``split='val'`` and ``'trainval'`` to mmpretrain's CIFAR."""

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 num_val: int = 5000,
                 **kwargs) -> None:
        name = type(self).__name__
        if split not in SPLITS:
            raise ValueError(f'{name}: split must be one of {SPLITS}, got '
                             f'{split!r}.')
        # bool is an int subclass, but num_val=True is surely a mistake.
        if isinstance(num_val, bool) or not isinstance(num_val, int) or \
                num_val < 1:
            raise ValueError(f'{name}: num_val must be a positive int, got '
                             f'{num_val!r}.')
        # mmpretrain's CIFAR10 keeps the file split ('train' or 'test') in
        # ``self.split`` and reads it while loading, so ours is apart.
        self.subset = split
        self.num_val = num_val
        super().__init__(
            data_root=data_root,
            split='test' if split == 'test' else 'train',
            **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        try:
            return data_list[held_out_slice(
                len(data_list), self.subset, self.num_val)]
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from e

    def extra_repr(self) -> List[str]:
        what = {
            'train': f'all but the last {self.num_val} training images',
            'val': f'the last {self.num_val} training images',
            'trainval': 'all training images',
            'test': 'the test images',
        }[self.subset]
        return super().extra_repr() + [f'Split: \t{self.subset} ({what})']


@DATASETS.register_module()
class CIFAR10Split(_HeldOutSplit, CIFAR10):
    """mmpretrain's :class:`~mmpretrain.datasets.CIFAR10` with a validation
    split held out of the training images, as RLA-Net trains.

    Args:
        data_root (str): The folder holding ``cifar-10-batches-py``.
        split (str): ``'train'`` (the first 45k training images),
            ``'val'`` (the last ``num_val`` = 5k), ``'trainval'`` (all 50k)
            or ``'test'`` (the official 10k). Defaults to ``'train'``.
        num_val (int): Images held out for ``'val'``. Defaults to 5000.
        **kwargs: Other arguments of mmpretrain's ``CIFAR10``, e.g.
            ``pipeline``, ``download`` (the repo's configs set False).

    Example:
        >>> dataset = CIFAR10Split('data/cifar10', split='val',
        ...                        lazy_init=True)  # reads no file yet
        >>> dataset.extra_repr()[-1].endswith(
        ...     'val (the last 5000 training images)')
        True
    """


@DATASETS.register_module()
class CIFAR100Split(_HeldOutSplit, CIFAR100):
    """mmpretrain's :class:`~mmpretrain.datasets.CIFAR100` with a validation
    split held out of the training images, as RLA-Net trains.

    Args:
        data_root (str): The folder holding ``cifar-100-python``.
        split (str): ``'train'`` (the first 45k training images),
            ``'val'`` (the last ``num_val`` = 5k), ``'trainval'`` (all 50k)
            or ``'test'`` (the official 10k). Defaults to ``'train'``.
        num_val (int): Images held out for ``'val'``. Defaults to 5000.
        **kwargs: Other arguments of mmpretrain's ``CIFAR100``.

    Example:
        >>> dataset = CIFAR100Split('data/cifar100', split='train',
        ...                         lazy_init=True)  # reads no file yet
        >>> dataset.extra_repr()[-1].endswith(
        ...     'train (all but the last 5000 training images)')
        True
    """
