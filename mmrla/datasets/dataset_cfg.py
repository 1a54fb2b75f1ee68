"""Walking the dataset configs of a runner config (shared by the config
checks of the tools)."""
import os.path as osp
from typing import Iterator, Optional, Sequence, Tuple


def dataset_cfgs(dataset) -> Iterator[dict]:
    """Yield leaf dataset configs, looking through dataset wrappers."""
    if isinstance(dataset, dict):
        if 'dataset' in dataset:
            yield from dataset_cfgs(dataset['dataset'])
        elif 'datasets' in dataset:
            for d in dataset['datasets']:
                yield from dataset_cfgs(d)
        else:
            yield dataset


def split_datasets(cfg, splits: Sequence[str]) -> Iterator[Tuple[str, dict]]:
    """Yield ``(split, leaf dataset config)`` of the dataloaders
    ``{split}_dataloader`` of a runner config that are set."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            for dataset in dataset_cfgs(loader.get('dataset')):
                yield split, dataset


def join_root(root: str, path: str) -> str:
    """``path`` under a dataset's ``data_root`` unless it is absolute or
    a URL."""
    return path if not root or osp.isabs(path) or '://' in path else \
        osp.join(root, path)


def dataset_class(dataset: dict) -> Optional[type]:
    """The class a dataset config's ``type`` names, if registered."""
    if not isinstance(dataset.get('type'), str):
        return None
    import mmpretrain.datasets  # noqa: F401  (registers the types)
    from mmpretrain.registry import DATASETS
    return DATASETS.get(dataset['type'])
