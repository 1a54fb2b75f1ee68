"""``--cfg-options data_root=...`` for configs whose paths read
``data_root``.

A config's other settings read its top-level ``data_root`` when the file
loads (``data_root=data_root``, ``ann_file=data_root + '...'``), before
``--cfg-options`` is applied: setting only the variable would change
nothing, and the errors would quote the old path. The tools therefore move
every path that derives from it, or refuse the option in one line naming
the keys to set.
"""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config

from mmrla.datasets.dataset_cfg import split_datasets
from mmrla.errors import UserError

_SPLITS = ('train', 'val', 'test')


def _path_keys(cfg: Config) -> Iterator[Tuple[str, dict, str]]:
    """``(config path, dict, key)`` of every dataset ``data_root`` and
    evaluator ``ann_file`` of the runner config."""
    for split in _SPLITS:
        for _, dataset in split_datasets(cfg, (split, )):
            yield f'{split}_dataloader.dataset.data_root', dataset, 'data_root'
        evaluator = cfg.get(f'{split}_evaluator')
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        for i, metric in enumerate(metrics):
            if isinstance(metric, dict) and 'ann_file' in metric:
                where = f'{split}_evaluator' + (f'.{i}' if isinstance(
                    evaluator, list) else '')
                yield f'{where}.ann_file', metric, 'ann_file'


def move_data_root(cfg: Config, options: Optional[dict],
                   config_path: str) -> Optional[dict]:
    """Apply ``data_root`` of ``options`` to the paths derived from it.

    Every dataset ``data_root`` equal to the config's ``data_root``, and
    every evaluator ``ann_file`` under it, moves to the new root.

    Args:
        cfg (Config): The loaded config, before ``options`` are merged;
            changed in place.
        options (dict, optional): ``--cfg-options``.
        config_path (str): The config file, for the message.

    Returns:
        dict, optional: The other options, to merge as usual (after, so
        that a dataset's own ``data_root`` given with it wins).

    Raises:
        UserError: If no path of the config derives from its
            ``data_root``, naming the keys to set instead.

    Example:
        >>> cfg = Config(dict(data_root='data/a/', train_dataloader=dict(
        ...     dataset=dict(data_root='data/a/', ann_file='x.json'))))
        >>> move_data_root(cfg, {'data_root': '/b'}, 'c.py')
        {}
        >>> cfg.train_dataloader.dataset.data_root
        '/b'
    """
    if not options or 'data_root' not in options:
        return options
    options = dict(options)
    new = options.pop('data_root')
    old = cfg.get('data_root')
    keys: List[str] = []
    moved = False
    for where, node, key in _path_keys(cfg):
        value = node.get(key)
        keys.append(where)
        if not isinstance(value, str) or not isinstance(old, str) or \
                not old:
            continue
        if key == 'data_root' and value in (old, new):
            moved = moved or value == old
            node[key] = new
        elif key == 'ann_file' and value.startswith(old):
            node[key] = osp.join(new, value[len(old):].lstrip('/'))
            moved = True
    if not moved:
        listed = ', '.join(dict.fromkeys(keys)) or \
            'the data_root of each dataset'
        raise UserError(
            f'--cfg-options data_root={new} would change nothing: no path '
            f'of {config_path} reads its data_root'
            f'{"" if isinstance(old, str) else " (it has none)"}. Set the '
            f'paths themselves: {listed}.')
    cfg.data_root = new
    return options
