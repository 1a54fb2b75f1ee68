"""ImageNet weights reach the detectors through the configs' ``init_cfg``.

An official-layout RLANet checkpoint (random values, the authors' key names)
is converted with ``tools/model_converters/rlanet_to_mmrla.py`` and loaded
through the unchanged ``Pretrained`` init_cfg of a detection config (only the
file path is redirected): every backbone tensor must come from the file.
"""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

from tests.fixtures.det_configs import config_path
from tests.fixtures.reference_models import RefRLAResNet, randomize_
from tests.fixtures.rlanet_checkpoints import authors_imagenet_checkpoint
from tests.fixtures.sizes import slow_if_deep

register_all_modules(init_default_scope=False)


@pytest.mark.parametrize(
    'family,backbone,ref_kwargs',
    slow_if_deep([
        ('retinanet', 'r50rlaeca', dict(eca=[5, 5, 5, 7])),
        ('faster_rcnn', 'r101rla', dict(layers=(3, 4, 23, 3))),
    ]))
def test_converted_weights_load_through_init_cfg(family, backbone, ref_kwargs,
                                                 tmp_path):
    from tools.model_converters.rlanet_to_mmrla import main as convert
    ref = randomize_(RefRLAResNet(**ref_kwargs), seed=5)
    src = tmp_path / 'official.pth.tar'
    torch.save(authors_imagenet_checkpoint(ref, backbone), src)
    dst = tmp_path / 'checkpoints' / f'{backbone}_in1k.pth'
    assert convert([str(src), str(dst)]) == 0
    converted = torch.load(dst, weights_only=True)['state_dict']

    cfg = Config.fromfile(config_path(family, backbone))
    init_cfg = cfg.model.backbone.init_cfg
    assert (init_cfg.type, init_cfg.prefix) == ('Pretrained', 'backbone.')
    init_cfg.checkpoint = str(dst)
    model = MODELS.build(cfg.model)
    model.init_weights()

    loaded = model.backbone.state_dict()
    expected = {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }
    missing = sorted(set(loaded) - set(expected))
    assert not missing, f'backbone keys not in the checkpoint: {missing}'
    for key, value in loaded.items():
        assert torch.equal(value, expected[key]), key
    # Unused by detection: h's final update and output norm (and head.fc).
    last = f'layer4.{len(model.backbone.layer4) - 1}.rla_norm.'
    assert sorted(set(expected) - set(loaded)) == sorted(
        k for k in expected if k.startswith((last, 'rla_out_norm.')))
