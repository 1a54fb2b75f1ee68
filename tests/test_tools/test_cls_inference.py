"""Inference with converted weights: mmpretrain's get_model and
ImageClassificationInferencer with our configs, and demo/image_demo.py."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from mmrla.converters import convert_rlanet_state_dict
from tests.fixtures.console import assert_line
from tests.fixtures.reference_models import RefRLAMobileNetV2, randomize_

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mobilenetv2rlaeca_2xb48_in1k.py')


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """The authors' model (re-stated) and its converted checkpoint."""
    tmp = tmp_path_factory.mktemp('inference')
    ref = randomize_(RefRLAMobileNetV2(eca=True), seed=5).eval()
    official = {f'module.{k}': v for k, v in ref.state_dict().items()}
    path = str(tmp / 'rla_ecamobilenetv2_in1k.pth')
    torch.save({'state_dict': convert_rlanet_state_dict(official)}, path)
    images = tmp / 'images'
    images.mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(300, 260), (240, 320)]):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(
            images / f'img{i}.jpg')
    (images / 'notes.txt').write_text('not an image')
    return ref, path, str(images)


def _reference_scores(ref, image_path):
    """The test pipeline by hand: short side 256, center 224, RGB, norm."""
    import mmcv
    img = mmcv.imread(image_path)  # BGR
    img = mmcv.imrescale(img, 256 / min(img.shape[:2]))
    h, w = img.shape[:2]
    top, left = round((h - 224) / 2), round((w - 224) / 2)
    img = img[top:top + 224, left:left + 224, ::-1].astype(np.float32)
    mean = np.array([123.675, 116.28, 103.53], dtype=np.float32)
    std = np.array([58.395, 57.12, 57.375], dtype=np.float32)
    x = torch.from_numpy(((img - mean) / std).transpose(2, 0, 1).copy())
    with torch.no_grad():
        return ref(x[None]).softmax(-1)[0]


def test_get_model_and_inferencer(converted):
    from mmpretrain.apis import ImageClassificationInferencer, get_model
    ref, ckpt, images = converted
    model = get_model(CONFIG, pretrained=ckpt)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), ref(x), atol=1e-5, rtol=1e-5)
    assert len(model._dataset_meta['classes']) == 1000

    inferencer = ImageClassificationInferencer(CONFIG, pretrained=ckpt)
    image = osp.join(images, 'img0.jpg')
    (result, ) = inferencer(image)
    expected = _reference_scores(ref, image)
    np.testing.assert_allclose(
        result['pred_scores'], expected.numpy(), atol=2e-3)
    assert result['pred_label'] == int(expected.argmax())
    assert result['pred_class'] == model._dataset_meta['classes'][
        result['pred_label']]


def test_inferencer_refuses_an_image_of_the_wrong_channel_count(converted):
    """RGBA arrays get one line that names the fix; gray ones are
    broadcast, as mmpretrain's preprocessor does."""
    from mmpretrain.apis import ImageClassificationInferencer

    from mmrla.models.data_preprocessors import ImageChannelError
    ref, ckpt, images = converted
    inferencer = ImageClassificationInferencer(CONFIG, pretrained=ckpt)
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (240, 260, 4), dtype=np.uint8)
    with pytest.raises(ImageChannelError) as info:
        inferencer(rgba)
    assert_line(
        str(info.value), 'an image has 4 channels',
        'the model takes 3 (or 1, gray)', 'img[..., :3]')
    (result, ) = inferencer(rgba[..., :3])
    assert 0 <= result['pred_label'] < 1000
    gray = rng.integers(0, 256, (240, 260, 1), dtype=np.uint8)
    (result, ) = inferencer(gray)
    assert 0 <= result['pred_label'] < 1000


def _result_lines(text):
    # mmengine also prints which backend loaded the checkpoint.
    return [
        line for line in text.splitlines()
        if line.endswith('.jpg') or line.startswith('  ')
    ]


def test_image_demo_prints_top5(converted, capsys):
    from demo.image_demo import main
    ref, ckpt, images = converted
    assert main([images, CONFIG, ckpt]) == 0
    out = _result_lines(capsys.readouterr().out)
    # Two images (the .txt is skipped), a path line and 5 classes each.
    assert len(out) == 12
    assert out[0].endswith('img0.jpg') and out[6].endswith('img1.jpg')
    expected = _reference_scores(ref, osp.join(images, 'img0.jpg'))
    top5 = expected.topk(5).indices.tolist()
    labels = [int(line.split('(class ')[1].split(')')[0]) for line in out[1:6]]
    assert labels[0] == top5[0]
    assert set(labels) == set(top5)
    assert main([osp.join(images, 'img1.jpg'), CONFIG, ckpt, '--topk',
                 '3']) == 0
    assert len(_result_lines(capsys.readouterr().out)) == 4


def test_image_demo_errors(converted, tmp_path, capsys):
    from demo.image_demo import main
    ref, ckpt, images = converted
    assert main([str(tmp_path), CONFIG, ckpt]) == 2
    assert 'neither an image nor a folder' in capsys.readouterr().err
    assert main([images, CONFIG, str(tmp_path / 'none.pth')]) == 2
    assert 'rlanet_to_mmrla.py' in capsys.readouterr().err
    # The authors' unconverted checkpoint is refused with the fix.
    official = tmp_path / 'dsrla_mobilenetv2_k32_eca.pth.tar'
    torch.save(
        {
            'state_dict': {
                f'module.{k}': v
                for k, v in ref.state_dict().items()
            }
        }, official)
    assert main([images, CONFIG, str(official)]) == 2
    err = capsys.readouterr().err
    assert "layout of the authors' released" in err
    assert f'rlanet_to_mmrla.py {official} checkpoints/' in err
    # A checkpoint of another model (no ECA) is refused too.
    other = osp.join(REPO, 'configs', 'mobilenetv2rla_2xb48_in1k.py')
    assert main([images, other, ckpt]) == 2
    err = capsys.readouterr().err
    assert 'does not fit the model of the config' in err
    assert 'keys are not in the model' in err and '.eca.conv.weight' in err
