"""The deterministic "shapes" instance segmentation dataset.

Circles, squares and triangles in varied colours, sizes, rotations and
overlaps, on textured backgrounds, with COCO annotations (polygon masks of
the *visible* part of each shape, boxes, areas). Shapes are placed so that
each keeps at least ``min_visible`` of its area, hence every drawn shape is
annotated and no annotation is hidden.

The command line is ``tools/dataset_converters/generate_shapes.py``; the
Quick start demo (``demo/quick_start.py``) calls :func:`generate_shapes`
itself. :mod:`.cifar_shapes` draws its images with the same
:func:`textured_background`, :func:`random_polygon`, :func:`polygon_mask`
and :func:`random_colour`.

Layout::

    data/shapes/
        train/000000.png ...
        val/000000.png ...
        annotations/instances_train.json
        annotations/instances_val.json
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

CLASSES = ('circle', 'square', 'triangle')
SPLITS = ('train', 'val')


def textured_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A background of smooth colour noise, stripes and grain (uint8 HxWx3)."""
    grid = rng.uniform(40, 200, size=(4, 4, 3)).astype(np.float32)
    base = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 20)
    phase = np.cos(angle) * xx + np.sin(angle) * yy
    stripes = np.sin(2 * np.pi * phase / period)[..., None]
    base += stripes * rng.uniform(5, 25) * rng.uniform(0.5, 1, size=3)
    base += rng.normal(0, 6, size=base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def random_polygon(rng: np.random.Generator, label: int, size: int,
                   min_radius: int, max_radius: int) -> np.ndarray:
    """Vertices (N x 2, float) of a random shape of class ``label``."""
    radius = rng.uniform(min_radius, max_radius)
    cx, cy = rng.uniform(radius * 0.6, size - radius * 0.6, size=2)
    rotation = rng.uniform(0, 2 * np.pi)
    num_vertices = {0: 32, 1: 4, 2: 3}[label]
    angles = rotation + np.arange(num_vertices) * 2 * np.pi / num_vertices
    if label == 1:  # equal area feel: a square's circumradius is larger
        radius *= 1.2
    return np.stack(
        [cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


def polygon_mask(polygon: np.ndarray, size: int) -> np.ndarray:
    """The pixels (size x size, bool) inside ``polygon``."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.astype(bool)


def _has_hole(mask: np.ndarray) -> bool:
    _, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    # In the two-level hierarchy, holes are the contours with a parent.
    return hierarchy is not None and bool((hierarchy[0, :, 3] >= 0).any())


def random_colour(rng: np.random.Generator) -> Tuple[int, int, int]:
    """A saturated, bright RGB colour (random hue)."""
    hsv = np.array([[[
        rng.integers(0, 180),
        rng.integers(150, 256),
        rng.integers(150, 256)
    ]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _mask_to_polygons(mask: np.ndarray, upscale: int = 4) -> List[List[float]]:
    """Outline a binary mask with polygons in COCO pixel coordinates.

    Contours run through the centres of boundary pixels, which would shave
    half a pixel off every edge; tracing an upscaled mask puts the outline
    within ``1 / (2 * upscale)`` px of the true pixel edges instead.
    """
    big = np.kron(mask.astype(np.uint8), np.ones((upscale, upscale), np.uint8))
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        if len(contour) >= 3:
            points = (contour.reshape(-1, 2) + 0.5) / upscale
            polygons.append(np.round(points, 3).reshape(-1).tolist())
    return polygons


def draw_image(rng: np.random.Generator,
               size: int = 128,
               max_shapes: int = 5,
               min_radius: int = 8,
               max_radius: int = 26,
               min_visible: float = 0.6,
               tries: int = 30) -> Tuple[np.ndarray, List[Dict]]:
    """Draw one image and return it with its instances.

    Args:
        rng (np.random.Generator): Source of randomness.
        size (int): Image side in pixels.
        max_shapes (int): At most this many shapes; at least 2.
        min_radius (int): Smallest shape circumradius in pixels.
        max_radius (int): Largest shape circumradius in pixels.
        min_visible (float): Fraction of each shape's area that must stay
            visible after later shapes are drawn over it.
        tries (int): Placement attempts per shape.

    Returns:
        tuple: RGB image (size x size x 3, uint8) and a list of instances
        with ``label`` (0-based), ``mask`` (visible part, bool), ``color``.

    Example:
        >>> import numpy as np
        >>> img, shapes = draw_image(np.random.default_rng(0), size=64)
        >>> img.shape, 2 <= len(shapes) <= 5
        ((64, 64, 3), True)
    """
    image = textured_background(rng, size)
    shapes: List[Dict] = []
    for _ in range(int(rng.integers(2, max_shapes + 1))):
        label = int(rng.integers(0, len(CLASSES)))
        for _ in range(tries):
            full = polygon_mask(
                random_polygon(rng, label, size, min_radius, max_radius), size)
            area = full.sum()
            if area < 30:
                continue
            # Keep every earlier shape mostly visible and free of holes,
            # which COCO polygons cannot describe.
            if all((s['mask'] & ~full).sum() >= min_visible *
                   s['area'] and not _has_hole(s['mask'] & ~full)
                   for s in shapes):
                break
        else:
            continue
        for s in shapes:
            s['mask'] = s['mask'] & ~full
        shapes.append(
            dict(label=label, mask=full, area=area, color=random_colour(rng)))
    for s in shapes:
        image[s['mask']] = s['color']
    return image, shapes


def generate_split(out_dir: str, split: str, num_images: int, size: int,
                   seed: int) -> Dict:
    """Write one split's images and return its COCO dict."""
    os.makedirs(osp.join(out_dir, split), exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        # Per-image seeds make every image independent of the others.
        rng = np.random.default_rng([seed, SPLITS.index(split), index])
        image, shapes = draw_image(rng, size=size)
        file_name = f'{index:06d}.png'
        cv2.imwrite(
            osp.join(out_dir, split, file_name),
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append(
            dict(id=index + 1, file_name=file_name, height=size, width=size))
        for s in shapes:
            ys, xs = np.nonzero(s['mask'])
            polygons = _mask_to_polygons(s['mask'])
            if not polygons:
                continue
            x0, y0 = int(xs.min()), int(ys.min())
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=index + 1,
                    category_id=s['label'] + 1,
                    bbox=[
                        x0, y0,
                        int(xs.max()) - x0 + 1,
                        int(ys.max()) - y0 + 1
                    ],
                    area=int(s['mask'].sum()),
                    segmentation=polygons,
                    iscrowd=0,
                    color=list(s['color'])))
    return dict(
        info=dict(
            description='mmrla synthetic shapes', seed=seed, split=split),
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(CLASSES)
        ])


def generate_shapes(out_dir: str,
                    num_train: int = 300,
                    num_val: int = 50,
                    size: int = 128,
                    seed: int = 0) -> Dict[str, str]:
    """Generate both splits; returns the annotation file of each split."""
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    ann_files = {}
    for split, num in zip(SPLITS, (num_train, num_val)):
        coco = generate_split(out_dir, split, num, size, seed)
        ann_files[split] = osp.join(out_dir, 'annotations',
                                    f'instances_{split}.json')
        with open(ann_files[split], 'w') as f:
            json.dump(coco, f)
    return ann_files
