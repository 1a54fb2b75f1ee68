"""Match a config's classes with the data it trains on, before a runner
starts.

A config written for COCO or ImageNet names their classes (through the
dataset type's ``METAINFO``) and sizes its heads for them. Pointed at other
data, mmdet keeps only the annotations of the classes it knows (none: every
image is dropped, and training ends in "need at least one array to
concatenate"), and mmpretrain refuses a folder of another number of classes
with a long traceback. The tools therefore compare the classes with the
annotation file (COCO format) or the class subfolders (image folder) and
either fill them in, where the config leaves them to the data, or stop with
one line naming the fix.
"""
import json
import mmap
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmrla.datasets.dataset_cfg import join_root, split_datasets
from mmrla.errors import UserError

# The recipes of configs/own_data/ and the page that explains them.
DET_RECIPE = 'configs/own_data/faster_rcnn_r50rla_fpn_1x_own_coco.py'
CLS_RECIPE = 'configs/own_data/r50rla_own_folder.py'
DOCS = 'docs/own_data.md'


def read_coco_categories(path: str, by_id: bool = True) -> List[dict]:
    """The ``categories`` of a COCO-format annotation file, by id (or in
    the file's order with ``by_id=False``).

    The list sits at the end of the files COCO's tools write, so it is
    decoded from there without parsing the (often hundreds of MB of)
    annotations; a file where that fails is parsed whole.

    Raises:
        UserError: If the file is not JSON or has no ``categories`` list of
            ``{'id', 'name'}`` entries.

    Example:
        >>> import json, tempfile
        >>> with tempfile.NamedTemporaryFile('w', suffix='.json') as f:
        ...     json.dump(dict(images=[], annotations=[], categories=[
        ...         dict(id=2, name='dog'), dict(id=1, name='cat')]), f)
        ...     f.flush()
        ...     [c['name'] for c in read_coco_categories(f.name)]
        ['cat', 'dog']
    """
    categories = None
    try:
        with open(path, 'rb') as f, \
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = data.rfind(b'"categories"')
            if start >= 0:
                tail = data[start + len(b'"categories"'):].decode()
                tail = tail.lstrip()
                if tail.startswith(':'):
                    categories, _ = json.JSONDecoder().raw_decode(
                        tail[1:].lstrip())
    except (ValueError, UnicodeDecodeError):  # also an empty file (mmap)
        categories = None
    if not _valid_categories(categories):
        try:
            with open(path) as f:
                categories = json.load(f).get('categories')
        except (ValueError, AttributeError) as e:
            raise UserError(f'Cannot read the annotation file {path} as '
                            f'COCO-format JSON: {e}.') from e
    if not _valid_categories(categories):
        raise UserError(
            f'The annotation file {path} has no "categories" list of '
            '{"id": ..., "name": ...} entries, which a COCO-format file '
            'needs to name its classes.')
    return sorted(categories, key=lambda c: c['id']) if by_id else \
        categories


def _valid_categories(categories) -> bool:
    return isinstance(categories, list) and all(
        isinstance(c, dict) and 'id' in c and 'name' in c for c in categories)


def _registered(dataset: dict, scope: str) -> Optional[type]:
    """The class a dataset config's ``type`` names in ``scope``."""
    if not isinstance(dataset.get('type'), str):
        return None
    if scope == 'mmdet':
        import mmdet.datasets  # noqa: F401  (registers the types)
        from mmdet.registry import DATASETS
    else:
        import mmpretrain.datasets  # noqa: F401
        from mmpretrain.registry import DATASETS
    try:
        return DATASETS.get(dataset['type'])
    except (KeyError, RuntimeError):
        return None


def _data_classes(dataset: dict,
                  scope: str) -> Optional[Tuple[list, str, Optional[list]]]:
    """The classes the data of a dataset config defines, where from (a
    COCO-format annotation file's categories, or an image folder's class
    subfolders: mmpretrain's ``CustomDataset`` without an ``ann_file``),
    and for a COCO file its category names in the file's order. None for
    other datasets, or data that cannot be read here."""
    cls = _registered(dataset, scope)
    if cls is None:
        return None
    root = dataset.get('data_root') or ''
    if scope == 'mmdet':
        from mmdet.datasets import CocoDataset
        ann_file = dataset.get('ann_file')
        if not (issubclass(cls, CocoDataset) and isinstance(ann_file, str)
                and ann_file.endswith('.json')):
            return None
        path = join_root(root, ann_file)
        if '://' in path or not osp.isfile(path):
            return None
        in_file = [c['name'] for c in read_coco_categories(path, False)]
        by_id = [c['name'] for c in read_coco_categories(path)]
        return by_id, f'the categories of {path}', in_file
    from mmpretrain.datasets import CustomDataset
    if not issubclass(cls, CustomDataset) or dataset.get('ann_file'):
        return None
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', '')
    split = dataset.get('split')
    if isinstance(split, str) and split:
        # mmpretrain's ImageNet: data_root/{split}, and meta/{split}.txt
        # as its ann_file when that exists.
        if osp.isfile(osp.join(root, 'meta', f'{split}.txt')):
            return None
        prefix = prefix or split
    folder = join_root(root, prefix) if prefix else root
    if '://' in folder or not osp.isdir(folder):
        return None
    # As mmpretrain's CustomDataset finds them (sorted, one per class).
    names = sorted(
        e.name for e in os.scandir(folder)
        if e.is_dir() and not e.name.startswith('.'))
    return names, f'the class subfolders of {folder}', None


def _config_classes(dataset: dict, scope: str):
    """The classes a dataset config names: its ``metainfo.classes``, else
    its type's ``METAINFO``; None when it leaves them to the data."""
    metainfo = dataset.get('metainfo') or {}
    if 'classes' in metainfo:
        return metainfo['classes']
    cls = _registered(dataset, scope)
    return (getattr(cls, 'METAINFO', None) or {}).get('classes')


def _num_classes_entries(node, path: str) -> Iterator[Tuple[str, dict]]:
    """``(dotted path, dict)`` of every dict holding ``num_classes``."""
    if isinstance(node, dict):
        if 'num_classes' in node:
            yield path, node
        for key, value in node.items():
            yield from _num_classes_entries(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _num_classes_entries(value, f'{path}.{i}')


def _quoted(names: Sequence[str], n: int = 5) -> str:
    shown = ', '.join(repr(str(x)) for x in list(names)[:n])
    return shown + (f' and {len(names) - n} more' if len(names) > n else '')


def match_dataset_classes(cfg: Config, config_path: str,
                          splits: Sequence[str]) -> bool:
    """Check, or fill in, the classes of the config's datasets and heads.

    For every dataset of the given dataloaders that reads a COCO-format
    annotation file (mmdet's ``CocoDataset`` and its subclasses) or an
    image folder with a subfolder per class (mmpretrain's
    ``CustomDataset`` without ``ann_file``):

    - a config that leaves the classes to the data (``metainfo =
      dict(classes=None)`` for detection; no classes for a folder) gets
      those of the first dataset checked;
    - a config that names classes must find each of them in the data.

    Every ``num_classes`` of the model (and of ``data_preprocessor``) is
    then set to the number of classes, which mmdet's and mmpretrain's heads
    need, and top-k accuracies above it are dropped from the evaluators.

    Args:
        cfg (Config): A runner config; changed in place.
        config_path (str): The config file, for the messages.
        splits (Sequence[str]): Dataloaders to check, the first one first,
            e.g. ``('train', 'val')``.

    Returns:
        bool: Whether the model's ``num_classes`` changed (a model built
        from ``cfg`` before must be built again).

    Raises:
        UserError: One line naming the disagreement and the fix.
    """
    scope = cfg.get('default_scope') or 'mmpretrain'
    classes = None
    for split, dataset in split_datasets(cfg, splits):
        found = _data_classes(dataset, scope)
        if found is None:
            continue
        names, where, in_file = found
        given = _config_classes(dataset, scope)
        if given is None:
            if classes is None:
                classes = list(names)
            if scope == 'mmdet':
                dataset['metainfo'] = dict(
                    dataset.get('metainfo') or {}, classes=tuple(classes))
            given = classes
        elif classes is None:
            classes = list(given)
        _refuse_unknown_classes(
            list(given), names, where, split, config_path, scope)
        if in_file is not None:
            _refuse_swapped_labels(cfg, dataset, list(given), in_file, where,
                                   split, config_path)
    if classes is None:
        return False
    return set_num_classes(cfg, classes)


def _refuse_unknown_classes(given: list, names: list, where: str, split: str,
                            config_path: str, scope: str) -> None:
    if scope == 'mmdet':
        unknown = [c for c in given if c not in names]
        if not unknown:
            return
        recipe = DET_RECIPE
    else:
        # mmpretrain maps the sorted subfolders to the classes in order.
        if len(given) == len(names) and set(given) == set(names):
            return
        unknown = [c for c in given if c not in names] or given
        recipe = CLS_RECIPE
    # Which names are missing matters when only some are.
    among = '' if len(unknown) == len(given) else \
        f'; {_quoted(unknown, 3)} {"is" if len(unknown) == 1 else "are"} ' \
        'not among them'
    raise UserError(
        f'The {split} dataset of {config_path} has {len(given)} classes '
        f'({_quoted(given, 2)}) that do not match {where} ({len(names)}: '
        f'{_quoted(names)}){among}. Start from {recipe}, which reads them '
        f'from the data ({DOCS}), or name them in the dataset of every '
        f'split: {split}_dataloader.dataset.metainfo.classes = '
        f'{tuple(names)!r}.')


def _refuse_swapped_labels(cfg: Config, dataset: dict, given: list,
                           in_file: list, where: str, split: str,
                           config_path: str) -> None:
    """Refuse mmdet's COCO dataset or metric where they would number the
    classes in the file's order rather than in the order of ``given``."""
    file_order = [n for n in in_file if n in given]
    if file_order == given:
        return
    from mmdet.evaluation import CocoMetric
    fix = (f'Use type=\'ClassOrderCocoDataset\' and '
           f'type=\'ClassOrderCocoMetric\' (custom_imports: mmrla.datasets, '
           f'mmrla.evaluation), whose labels follow the classes, as '
           f'{DET_RECIPE} does ({DOCS}), or write the classes in the '
           f'file\'s order: {split}_dataloader.dataset.metainfo.classes = '
           f'{tuple(file_order)!r}.')
    swapped = next(f'{a!r} would be labelled {b!r}'
                   for a, b in zip(file_order, given) if a != b)
    # mmrla's ClassOrderCocoDataset and ClassOrderCocoMetric say so.
    if not getattr(
            _registered(dataset, 'mmdet'), 'labels_follow_classes', False):
        raise UserError(
            f'The {split} dataset of {config_path} lists its classes '
            f'{_quoted(given, 3)} in another order than {where}, and '
            f'{dataset["type"]} numbers them in the file\'s order: '
            f'{swapped}. {fix}')
    evaluator = cfg.get(f'{split}_evaluator')
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if not isinstance(metric, dict) or not metric.get('ann_file') or \
                not isinstance(metric.get('type'), str):
            continue
        from mmdet.registry import METRICS
        try:
            cls = METRICS.get(metric['type'])
        except (KeyError, RuntimeError):
            cls = None
        if cls is not None and issubclass(cls, CocoMetric) and \
                not getattr(cls, 'labels_follow_classes', False):
            raise UserError(
                f'The {split} evaluator of {config_path} ({metric["type"]}) '
                f'maps the labels to the categories of {metric["ann_file"]} '
                'in the file\'s order, not in the order of the classes '
                f'{_quoted(given, 3)}: {swapped}. {fix}')


def set_num_classes(cfg: Config, classes: Sequence[str]) -> bool:
    """Set every ``num_classes`` of the model (and of
    ``data_preprocessor``) to ``len(classes)``, and drop top-k accuracies
    above it from the evaluators.

    Returns:
        bool: Whether the model's ``num_classes`` changed.
    """
    entries = list(_num_classes_entries(cfg.get('model'), 'model'))
    preprocessor = cfg.get('data_preprocessor')
    if isinstance(preprocessor, dict) and 'num_classes' in preprocessor:
        entries.append(('data_preprocessor', preprocessor))
    changed = False
    for path, node in entries:
        if node['num_classes'] != len(classes):
            node['num_classes'] = len(classes)
            changed = changed or path != 'data_preprocessor'
    # mmpretrain's Accuracy cannot take the top 5 of fewer classes.
    for split in ('val', 'test'):
        evaluator = cfg.get(f'{split}_evaluator')
        for metric in evaluator if isinstance(evaluator,
                                              list) else [evaluator]:
            if isinstance(metric, dict) and metric.get('type') == 'Accuracy':
                topk = metric.get('topk', (1, ))
                topk = (topk, ) if isinstance(topk, int) else tuple(topk)
                metric['topk'] = tuple(
                    k for k in topk if k <= len(classes)) or (1, )
    return changed
