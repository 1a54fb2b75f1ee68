"""CIFAR-10/100 with the 45k/5k train/validation split of RLA-Net.

The paper (section 4.1, appendix B.1) trains on 45k of the official 50k
training images, keeps the model with the best accuracy on the other 5k and
reports its error on the official 10k test images. Which 5k it held out is
not said; here it is the last ``num_val`` images of the official training
files in file order (images 45,000-49,999: the second half of
``data_batch_5`` for CIFAR-10, the end of ``train`` for CIFAR-100), so the
split is the same on every machine and needs no random seed.
"""
from typing import List

from mmengine.registry import DATASETS
from mmpretrain.datasets import CIFAR10, CIFAR100


class _HeldOutSplit:
    """Adds ``split='val'`` (and ``'trainval'``) to mmpretrain's CIFAR."""

    SPLITS = ('train', 'val', 'trainval', 'test')

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 num_val: int = 5000,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of '
                             f'{self.SPLITS}, got {split!r}.')
        if not isinstance(num_val, int) or num_val < 1:
            raise ValueError(f'{type(self).__name__}: num_val must be a '
                             f'positive int, got {num_val!r}.')
        self.subset = split
        self.num_val = num_val
        super().__init__(
            data_root=data_root,
            split='test' if split == 'test' else 'train',
            **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        if self.subset not in ('train', 'val'):
            return data_list
        if self.num_val >= len(data_list):
            raise ValueError(
                f'{type(self).__name__}: num_val={self.num_val} leaves no '
                f'training images out of {len(data_list)}; set '
                'dataset.num_val to fewer images.')
        cut = len(data_list) - self.num_val
        return data_list[:cut] if self.subset == 'train' else data_list[cut:]


@DATASETS.register_module()
class CIFAR10Split(_HeldOutSplit, CIFAR10):
    """mmpretrain's CIFAR10 with ``split`` one of ``'train'`` (first 45k
    training images), ``'val'`` (last ``num_val`` = 5k), ``'trainval'``
    (all 50k) or ``'test'`` (the official 10k)."""


@DATASETS.register_module()
class CIFAR100Split(_HeldOutSplit, CIFAR100):
    """mmpretrain's CIFAR100 with ``split`` one of ``'train'`` (first 45k
    training images), ``'val'`` (last ``num_val`` = 5k), ``'trainval'``
    (all 50k) or ``'test'`` (the official 10k)."""
