"""The demos and inferencers take the own-data config a model was trained
with: the classes, and the heads' size, come from the checkpoint; and
detections carry names, the file's category ids and COCO's results
format."""
import os.path as osp

import pytest
import torch

from mmrla.apis.det_predictions import (coco_results, image_ids_of,
                                        named_prediction)
from mmrla.cli import check_model_config
from mmrla.cli.trained_classes import (checkpoint_dataset_meta,
                                       load_trained_config)
from mmrla.errors import UserError
from mmrla.weights import check_checkpoint
from tests.fixtures.console import REPO
from tests.fixtures.own_photos import write_own_coco

OWN = osp.join(REPO, 'configs', 'own_data')
DET = osp.join(OWN, 'faster_rcnn_r50rla_fpn_1x_own_coco_640.py')
FOLDER = osp.join(OWN, 'r50rla_own_folder.py')


def _save(path, model, **meta) -> str:
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return str(path)


@pytest.mark.parametrize('config, head', [
    (FOLDER, 'head.fc.weight'),
    (DET, 'roi_head.bbox_head.fc_cls.weight'),
])
def test_trained_config_takes_the_checkpoint_classes(config, head, tmp_path):
    from mmrla.cli import load_config
    from mmrla.cli.own_data import set_num_classes
    classes = ('gift box', 'médaille', 'person')
    # What tools/train.py trains: the recipe sized for three classes.
    cfg = load_config(config, {'model.backbone.init_cfg': None})
    set_num_classes(cfg, classes)
    checkpoint = _save(
        tmp_path / 'epoch_1.pth',
        check_model_config(cfg, config),
        dataset_meta=dict(classes=classes))
    # The recipe as written has the 80 or 1000 classes of its base.
    with pytest.raises(UserError, match=f'{head}: checkpoint'):
        check_checkpoint(
            check_model_config(
                load_config(config, {'model.backbone.init_cfg': None}),
                config), checkpoint)
    cfg = load_trained_config(config, checkpoint,
                              {'model.backbone.init_cfg': None})
    check_checkpoint(check_model_config(cfg, config), checkpoint)
    if config == DET:
        assert cfg.test_dataloader.dataset.metainfo.classes == classes
    assert checkpoint_dataset_meta(checkpoint) == dict(classes=classes)


def test_without_stored_classes_the_saved_config_is_named(tmp_path):
    from mmrla.cli import load_config
    cfg = load_config(FOLDER, {'model.backbone.init_cfg': None})
    cfg.model.head.num_classes = 3
    work = tmp_path / 'work_dirs' / 'mine'
    work.mkdir(parents=True)
    checkpoint = _save(work / 'epoch_1.pth', check_model_config(cfg, FOLDER))
    # What tools/train.py leaves in its work dir.
    cfg.dump(str(work / 'r50rla_own_folder.py'))
    (work / 'last_checkpoint').write_text(checkpoint)
    cfg = load_trained_config(FOLDER, checkpoint,
                              {'model.backbone.init_cfg': None})
    with pytest.raises(UserError) as error:
        check_checkpoint(check_model_config(cfg, FOLDER), checkpoint)
    assert str(error.value).endswith(
        f'Pass {work / "r50rla_own_folder.py"}, the config saved with it by '
        'tools/train.py.')


def test_predictions_carry_names_and_category_ids(tmp_path):
    data = write_own_coco(tmp_path / 'photos', broken=False)
    prediction = dict(
        labels=[1, 0],
        scores=[0.9, 0.2],
        bboxes=[[4, 6, 60, 50], [0, 0, 8, 8]])
    named = named_prediction(prediction, ('person', 'gift box'), (3, 7))
    assert named['label_names'] == ['gift box', 'person']
    assert named['category_ids'] == [7, 3]
    ids = image_ids_of(data.ann_file('val'))
    results = coco_results(prediction, '/x/present.jpg', ids['present.jpg'],
                           (3, 7), ('person', 'gift box'))
    assert results[0] == dict(
        image_id=2,
        file_name='present.jpg',
        category_id=7,
        bbox=[4.0, 6.0, 56.0, 44.0],
        score=0.9,
        category_name='gift box')
    # pycocotools reads it as results of the annotation file.
    from mmdet.datasets.api_wrappers import COCO
    coco = COCO(data.ann_file('val'))
    loaded = coco.loadRes(results)
    assert sorted(loaded.getCatIds()) == [3, 7, 11, 15]
    assert loaded.anns[1]['category_id'] == 7
