import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmrla.datasets.synthetic import CLASSES, draw_image, generate_shapes


@pytest.fixture(scope='module')
def shapes_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('shapes')
    generate_shapes(str(out), num_train=12, num_val=6, size=96, seed=3)
    return out


def _load(out, split):
    return COCO(str(out / 'annotations' / f'instances_{split}.json'))


def test_same_seed_same_bytes(tmp_path, shapes_dir):
    generate_shapes(str(tmp_path), num_train=12, num_val=6, size=96, seed=3)
    for rel in ('annotations/instances_train.json', 'train/000007.png',
                'val/000005.png'):
        assert (tmp_path / rel).read_bytes() == (shapes_dir / rel).read_bytes()
    other = tmp_path / 'other'
    generate_shapes(str(other), num_train=2, num_val=1, size=96, seed=4)
    assert (other / 'train/000000.png').read_bytes() != \
        (shapes_dir / 'train/000000.png').read_bytes()


@pytest.mark.parametrize('split,num', [('train', 12), ('val', 6)])
def test_valid_coco_and_annotations_match_the_pixels(shapes_dir, split, num):
    coco = _load(shapes_dir, split)
    assert len(coco.getImgIds()) == num
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
        list(CLASSES)
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) >= 2 * num
    for ann in anns:
        info = coco.loadImgs(ann['image_id'])[0]
        image = cv2.imread(str(shapes_dir / split / info['file_name']))
        image = image[..., ::-1]
        drawn = np.all(image == np.array(ann['color']), axis=-1)
        mask = coco.annToMask(ann).astype(bool)
        # The polygons rasterize to exactly the visible drawn pixels.
        assert (mask ^ drawn).sum() == 0, ann['id']
        assert ann['area'] == mask.sum()
        ys, xs = np.nonzero(mask)
        x, y, w, h = ann['bbox']
        assert (x, y) == (xs.min(), ys.min())
        assert (x + w - 1, y + h - 1) == (xs.max(), ys.max())
        assert ann['iscrowd'] == 0


def test_all_classes_occur(shapes_dir):
    coco = _load(shapes_dir, 'train')
    anns = coco.loadAnns(coco.getAnnIds())
    assert {a['category_id'] for a in anns} == {1, 2, 3}


def test_draw_image_overlaps_but_keeps_shapes_visible():
    rng = np.random.default_rng(0)
    occluded = 0
    for _ in range(10):
        image, shapes = draw_image(rng, size=64)
        for s in shapes:
            visible = s['mask'].sum()
            assert visible >= 0.6 * s['area']
            occluded += visible < s['area']
            assert np.all(image[s['mask']] == s['color'])
    assert occluded > 0
