"""Check the image files and annotations of a runner config's datasets
before the model is built.

A missing or truncated image otherwise fails in a DataLoader worker when a
batch first reaches it, after the model is built, with a traceback that
names the file but not the fix; and mmdet and mmpretrain drop some images
without a word (images without annotations, files of other extensions).
:func:`check_data` reads the annotation file and each image's header
(whole files are not decoded: a file is "truncated" when its format's end
marker is missing), prints one summary line per dataset, and stops on
broken files unless told to leave them out.

It covers COCO-format detection datasets (mmdet's ``CocoDataset`` and its
subclasses) and image folders (mmpretrain's ``CustomDataset`` without
``ann_file``); other datasets are left to their loaders.
"""
import argparse
import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmrla.datasets.dataset_cfg import dataset_cfgs, join_root, split_datasets
from mmrla.errors import UserError
from .own_data import _registered

# Sets larger than this get a progress bar.
PROGRESS_FROM = 2000
# mmpretrain's CustomDataset reads these suffixes unless told otherwise.
FOLDER_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')
# Suffixes of image files a loader may skip without a word.
IMAGE_SUFFIXES = FOLDER_EXTENSIONS + ('.tiff', '.webp', '.gif', '.heic',
                                      '.heif', '.avif', '.jp2')


def image_problem(path: str) -> Optional[str]:
    """What stops ``path`` from loading: ``'missing'``, ``'unreadable'``
    (not an image PIL knows) or ``'truncated'`` (JPEG without its end
    marker, PNG without ``IEND``, WebP shorter than its header says); None
    for a file that looks whole.

    Only the header and the last bytes are read.

    Example:
        >>> image_problem('no/such/file.jpg')
        'missing'
    """
    if not osp.isfile(path):
        return 'missing'
    size = osp.getsize(path)
    with open(path, 'rb') as f:
        head = f.read(12)
        f.seek(max(0, size - 4096))
        tail = f.read()
    # Told by the magic bytes: PIL cannot open some truncated files at all.
    if head.startswith(b'\xff\xd8'):  # JPEG; cameras may pad after EOI
        whole = b'\xff\xd9' in tail
    elif head.startswith(b'\x89PNG'):
        whole = b'IEND' in tail[-64:]
    elif head.startswith(b'RIFF') and head[8:12] == b'WEBP':
        # RIFF: the size of what follows the first 8 bytes.
        whole = int.from_bytes(head[4:8], 'little') + 8 <= size
    elif head.startswith(b'GIF8'):
        whole = tail.rstrip(b'\x00').endswith(b';')
    else:
        whole = True
    if not whole:
        return 'truncated'
    from PIL import Image
    try:
        with Image.open(path):
            pass
    except Exception:  # PIL raises OSError, SyntaxError, ValueError, ...
        return 'unreadable'
    return None


@dataclass
class DataReport:
    """What the check found in one dataset.

    Attributes:
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        source (str): The annotation file or image folder read.
        images (int): Image files the dataset names (or would read).
        broken (list[tuple[str, str]]): ``(path, problem)`` of each image
            that cannot load (:func:`image_problem`).
        notes (list[str]): What the loader will drop or keep as is, each
            with the setting that changes it.
    """
    split: str
    source: str
    images: int = 0
    broken: List[Tuple[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def summary(self) -> str:
        broken = f'{len(self.broken)} broken' if self.broken else 'all load'
        notes = ''.join(f'; {note}' for note in self.notes)
        return (f'data check, {self.split}: {self.images} images in '
                f'{self.source}, {broken}{notes}')


def _files(paths: Sequence[str]) -> Iterator[str]:
    if len(paths) > PROGRESS_FROM:
        from mmengine.utils import track_iter_progress

        # The stdout of now (mmengine's default is the one of its import).
        yield from track_iter_progress(list(paths), file=sys.stdout)
    else:
        yield from paths


def _plural(n: int, word: str) -> str:
    return f'{n} {word}' + ('' if n == 1 else 's')


def _check_coco(dataset: dict, split: str, test_mode: bool) -> DataReport:
    root = dataset.get('data_root') or ''
    path = join_root(root, dataset['ann_file'])
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        images = data['images']
        annotations = data.get('annotations') or []
        categories = data['categories']
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f'Cannot read the annotation file {path} as '
                        f'COCO-format JSON: {type(e).__name__}: {e}.') from e
    report = DataReport(split, path, len(images))
    prefix = dataset.get('data_prefix') or {}
    folder = join_root(
        root,
        prefix.get('img', '') if isinstance(prefix, dict) else prefix)
    for image in _files(images):
        file = osp.join(folder, image['file_name'])
        problem = image_problem(file)
        if problem:
            report.broken.append((file, problem))

    classes = ((dataset.get('metainfo') or {}).get('classes'))
    cat_ids = {
        c['id']
        for c in categories if classes is None or c['name'] in classes
    }
    sizes = {i['id']: (i['width'], i['height']) for i in images}
    with_ann, with_box = set(), set()
    zero, outside, partly = 0, 0, 0
    for ann in annotations:
        if ann.get('category_id') not in cat_ids:
            continue
        with_ann.add(ann['image_id'])
        if ann.get('ignore', False):
            continue
        x, y, w, h = ann['bbox']
        width, height = sizes.get(ann['image_id'], (0, 0))
        # mmdet's CocoDataset.parse_data_info drops both kinds.
        inter_w = max(0, min(x + w, width) - max(x, 0))
        inter_h = max(0, min(y + h, height) - max(y, 0))
        if ann.get('area', 1) <= 0 or w < 1 or h < 1:
            zero += 1
        elif inter_w * inter_h == 0:
            outside += 1
        else:
            with_box.add(ann['image_id'])
            partly += x < 0 or y < 0 or x + w > width or y + h > height
    key = f'{split}_dataloader.dataset.filter_cfg'
    filter_cfg = dataset.get('filter_cfg') or {}
    without = [i for i in images if i['id'] not in with_ann]
    if without:
        if filter_cfg.get('filter_empty_gt', False) and not test_mode:
            report.notes.append(
                f'{_plural(len(without), "image")} without annotations of '
                f'the classes dropped (set {key}.filter_empty_gt=False to '
                'train on them as negatives)')
        else:
            report.notes.append(
                f'{_plural(len(without), "image")} without annotations of '
                'the classes kept as negatives')
    min_size = filter_cfg.get('min_size', 0)
    small = sum(min(i['width'], i['height']) < min_size for i in images)
    if small and not test_mode and filter_cfg:
        report.notes.append(
            f'{_plural(small, "image")} under {min_size} px dropped '
            f'({key}.min_size)')
    if zero:
        report.notes.append(
            f'{_plural(zero, "zero-size box")} (under 1 px or area 0) '
            'ignored')
    if outside:
        report.notes.append(
            f'{_plural(outside, "box")} outside the image ignored')
    if partly:
        report.notes.append(
            f'{_plural(partly, "box")} running past the image border kept')
    bare = len(with_ann - with_box)
    if bare:
        report.notes.append(
            f'{_plural(bare, "image")} left with no usable box, kept as '
            'negatives')
    return report


def _check_folder(dataset: dict, split: str) -> Optional[DataReport]:
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', '')
    folder = join_root(root, prefix) if prefix else root
    if not folder or not osp.isdir(folder):
        return None
    extensions = tuple(e.lower()
                       for e in dataset.get('extensions', FOLDER_EXTENSIONS))
    read, skipped = [], []
    for top, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            lower = name.lower()
            if lower.endswith(extensions):
                read.append(osp.join(top, name))
            elif lower.endswith(IMAGE_SUFFIXES):
                skipped.append(osp.join(top, name))
    report = DataReport(split, folder, len(read))
    for file in _files(read):
        problem = image_problem(file)
        if problem:
            report.broken.append((file, problem))
    if skipped:
        suffixes = sorted({osp.splitext(f)[1].lower() for f in skipped})
        wanted = tuple(dict.fromkeys(extensions + tuple(suffixes)))
        report.notes.append(
            f'{_plural(len(skipped), "image file")} of other extensions '
            f'({", ".join(suffixes)}) not read, e.g. {skipped[0]} (add them: '
            f'{split}_dataloader.dataset.extensions={wanted!r})')
    return report


def check_datasets(cfg: Config,
                   splits: Sequence[str]) -> List[Tuple[dict, DataReport]]:
    """Check the datasets of the given dataloaders.

    Returns:
        list[tuple[dict, DataReport]]: Each checked dataset config (a leaf
        of its dataloader's ``dataset``) with its report; configs of the
        same data (``test_dataloader = val_dataloader``) share the report
        of the first.
    """
    scope = cfg.get('default_scope') or 'mmpretrain'
    checked: List[Tuple[dict, DataReport]] = []
    seen: Dict[str, DataReport] = {}
    for split, dataset in split_datasets(cfg, splits):
        cls = _registered(dataset, scope)
        if cls is None:
            continue
        # test_dataloader = val_dataloader: the same data, read once.
        key = json.dumps({
            k: v
            for k, v in dataset.items() if k != 'pipeline'
        },
                         sort_keys=True,
                         default=str)
        if key in seen:
            checked.append((dataset, seen[key]))
            continue
        report = None
        if scope == 'mmdet':
            from mmdet.datasets import CocoDataset
            ann_file = dataset.get('ann_file')
            if issubclass(cls, CocoDataset) and isinstance(
                    ann_file, str) and osp.isfile(
                        join_root(dataset.get('data_root') or '', ann_file)):
                report = _check_coco(
                    dataset, split, dataset.get('test_mode', split != 'train'))
        else:
            from mmpretrain.datasets import CustomDataset
            if issubclass(cls, CustomDataset) and \
                    not dataset.get('ann_file'):
                report = _check_folder(dataset, split)
        if report is not None:
            seen[key] = report
            checked.append((dataset, report))
    return checked


def check_data(
        cfg: Config,
        splits: Sequence[str],
        skip_broken: bool = False,
        log: Optional[Callable[[str], None]] = None) -> List[DataReport]:
    """Check the data of a runner config, print a summary line per
    dataset, and stop on broken image files (or, with ``skip_broken``,
    leave them out, logging each).

    Args:
        cfg (Config): A runner config whose classes are known
            (:func:`~mmrla.cli.match_dataset_classes` first); a dataset
            with broken files is wrapped in
            :class:`~mmrla.datasets.ExcludeFiles` with ``skip_broken``.
        splits (Sequence[str]): Dataloaders to check, e.g. ``('train',
            'val')``.
        skip_broken (bool): Leave broken files out instead of stopping.
        log (callable, optional): Where the lines go; by default printed
            by the first process (``RANK`` 0) only.

    Returns:
        list[DataReport]: One per dataset checked (datasets of the same
        data share one).

    Raises:
        UserError: ``N image files cannot be loaded (...): first paths``,
            naming ``--skip-broken``.
    """
    if log is None:
        first = int(os.environ.get('RANK', 0)) == 0
        log = (lambda line: print(line, flush=True)) if first else \
            (lambda line: None)
    checked = check_datasets(cfg, splits)
    reports = list({id(r): r for _, r in checked}.values())
    for report in reports:
        log(report.summary())
    broken = [b for report in reports for b in report.broken]
    if broken and not skip_broken:
        kinds: Dict[str, int] = {}
        for _, problem in broken:
            kinds[problem] = kinds.get(problem, 0) + 1
        first = ', '.join(f'{path} ({problem})'
                          for path, problem in broken[:3])
        more = f' and {len(broken) - 3} more' if len(broken) > 3 else ''
        raise UserError(
            f'{_plural(len(broken), "image file")} cannot be loaded ('
            f'{", ".join(f"{n} {k}" for k, n in kinds.items())}): {first}'
            f'{more}. Replace or remove them, or add --skip-broken to leave '
            'them out (each is logged).')
    for report in reports:
        for path, problem in report.broken:
            log(f'skipped ({report.split}): {path} ({problem})')
    for dataset, report in checked:
        if not report.broken:
            continue
        import mmrla.datasets  # noqa: F401  (registers ExcludeFiles)
        inner = dict(dataset)
        dataset.clear()
        dataset.update(
            type='ExcludeFiles',
            dataset=inner,
            files=[path for path, _ in report.broken])
    return reports


def add_skip_broken_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--skip-broken`` option of the tools that run the check."""
    parser.add_argument(
        '--skip-broken',
        action='store_true',
        help='leave out image files that are missing, unreadable or '
        'truncated (each is logged) instead of stopping before the run')


def _has_key(node, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(_has_key(v, key) for v in node.values())
    if isinstance(node, (list, tuple)):
        return any(_has_key(v, key) for v in node)
    return False


def check_mask_pipeline(cfg: Config, config_path: str) -> None:
    """Refuse a model with a mask head whose training data loads no masks
    (mmdet fails in the head with "'InstanceData' object has no attribute
    'masks'").

    Raises:
        UserError: Naming the setting and the Mask R-CNN own-data recipe.
    """
    if not _has_key(cfg.get('model'), 'mask_head'):
        return
    loader = cfg.get('train_dataloader') or {}
    for dataset in dataset_cfgs(loader.get('dataset')):
        for i, step in enumerate(dataset.get('pipeline') or []):
            if isinstance(step, dict) and step.get('type') in (
                    'LoadAnnotations', 'mmdet.LoadAnnotations') and \
                    not step.get('with_mask', False):
                raise UserError(
                    f'The model of {config_path} has a mask head, but '
                    'the training data loads no masks: set '
                    f'train_dataloader.dataset.pipeline.{i}.with_mask=True '
                    '(LoadAnnotations), as configs/own_data/'
                    'mask_rcnn_r50rla_fpn_1x_own_coco.py does '
                    '(docs/own_data.md).')
