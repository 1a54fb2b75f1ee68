"""A dataset without the samples of some image files.

``tools/train.py --skip-broken`` (and ``tools/test.py``) leave out the image
files that the data check (:mod:`mmrla.cli.data_check`) found missing,
unreadable or truncated, instead of failing in a DataLoader worker when a
batch reaches them. The files are left out after the dataset's own
filtering, whatever its type: mmdet's and mmpretrain's datasets both give
each sample's file as ``img_path``.
"""
import os.path as osp
from typing import Sequence, Union

from mmrla.registry import DATASETS

__all__ = ['ExcludeFiles']


@DATASETS.register_module()
class ExcludeFiles:
    """Wrap a dataset, leaving out the samples whose ``img_path`` is one of
    ``files``.

    Args:
        dataset (dict | Dataset): The dataset, or its config.
        files (Sequence[str]): Image files to leave out (compared after
            ``os.path.normpath``).

    Example:
        >>> cfg = dict(type='ExcludeFiles', files=['data/train/bad.jpg'],
        ...            dataset=dict(type='CustomDataset',
        ...                         data_root='data', data_prefix='train'))
    """

    def __init__(self, dataset: Union[dict, object], files: Sequence[str]):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset,
                                                             dict) else dataset
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self.files = frozenset(osp.normpath(f) for f in files)
        self._indices = [
            i for i in range(len(self.dataset))
            if osp.normpath(self.dataset.get_data_info(i).get('img_path', ''))
            not in self.files
        ]

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Done in ``__init__``: the runner calls it on every dataset."""

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self._indices[idx])

    def __getitem__(self, idx: int):
        return self.dataset[self._indices[idx]]

    def __len__(self) -> int:
        return len(self._indices)
