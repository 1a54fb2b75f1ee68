"""Give a config the classes a checkpoint was trained on, for inference.

An own-data config leaves the classes to the data (``classes = None``, a
folder's subfolders) and keeps the recipe's ``num_classes`` (80, 1000):
``tools/train.py`` sets them from the data before the runner starts, and
saves the classes in the checkpoint's ``dataset_meta``. The demos and the
inferencers build the model from the config itself, so they take the
classes, and the heads' size, from that ``dataset_meta`` the same way.
"""
from collections.abc import Mapping
from typing import Optional, Tuple

from mmengine.config import Config

from mmrla.datasets.dataset_cfg import dataset_cfgs
from mmrla.engine.safe_load import CheckpointLoadError, load_checkpoint_file
from mmrla.errors import UserError
from mmrla.weights import check_checkpoint_exists
from .own_data import match_dataset_classes, set_num_classes


def checkpoint_dataset_meta(filename: str) -> dict:
    """The ``meta.dataset_meta`` of a local checkpoint (mmengine 0.x's
    ``meta.CLASSES`` as ``{'classes': ...}``); {} when it has none.

    Raises:
        UserError: If the file is not a checkpoint, or weights-only loading
            refuses it.
    """
    try:
        checkpoint = load_checkpoint_file(
            filename, map_location='cpu', mmap=True)
    except CheckpointLoadError as e:
        raise UserError(str(e)) from e
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    if not isinstance(meta, Mapping):
        return {}
    if isinstance(meta.get('dataset_meta'), Mapping):
        return dict(meta['dataset_meta'])
    if meta.get('CLASSES'):
        return {'classes': tuple(meta['CLASSES'])}
    return {}


def use_trained_classes(cfg: Config, checkpoint: str,
                        config_path: str) -> Optional[Tuple[str, ...]]:
    """Size the config's heads for the classes ``checkpoint`` was trained
    on, and name them in its test dataset.

    The classes come from the checkpoint's ``dataset_meta``; a checkpoint
    without them (e.g. converted weights) keeps the config's classes, or
    those of its test data when the config leaves them to the data, as
    ``tools/test.py`` does.

    Args:
        cfg (Config): The config; changed in place.
        checkpoint (str): A local checkpoint.
        config_path (str): The config file, for the messages.

    Returns:
        tuple[str], optional: The checkpoint's classes, or None.
    """
    classes = checkpoint_dataset_meta(checkpoint).get('classes')
    if not classes:
        try:
            match_dataset_classes(cfg, config_path, ('test', ))
        except UserError:
            pass  # Left to the checkpoint check, which names the fix.
        return None
    classes = tuple(classes)
    set_num_classes(cfg, classes)
    if cfg.get('default_scope') == 'mmdet':
        for split in ('val', 'test'):
            loader = cfg.get(f'{split}_dataloader') or {}
            for dataset in dataset_cfgs(loader.get('dataset')):
                if 'metainfo' in dataset or 'ann_file' in dataset:
                    dataset['metainfo'] = dict(
                        dataset.get('metainfo') or {}, classes=classes)
    return classes


def load_trained_config(config_path: str,
                        checkpoint: str,
                        cfg_options: Optional[dict] = None) -> Config:
    """Load ``config_path`` for inference with ``checkpoint``: the config a
    model was trained with, its heads sized for the checkpoint's classes.

    Pass the result to mmdet's ``DetInferencer`` or mmpretrain's
    ``ImageClassificationInferencer`` as ``model``.

    Args:
        config_path (str): The config file.
        checkpoint (str): A local checkpoint.
        cfg_options (dict, optional): Settings to merge.

    Example:
        >>> from mmdet.apis import DetInferencer  # doctest: +SKIP
        >>> cfg = load_trained_config('my_coco.py',  # doctest: +SKIP
        ...                           'epoch_12.pth')
        >>> DetInferencer(model=cfg, weights='epoch_12.pth')  # doctest: +SKIP
    """
    from .runner import load_config
    cfg = load_config(config_path, cfg_options)
    check_checkpoint_exists(checkpoint, config_path)
    use_trained_classes(cfg, checkpoint, config_path)
    return cfg
