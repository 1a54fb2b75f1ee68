import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmrla.converters import convert_rlanet_state_dict
from tests.fixtures.reference_models import RefRLAMobileNetV2, randomize_

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _build_classifier(config):
    from mmpretrain.models import ImageClassifier  # noqa: F401
    from mmpretrain.registry import MODELS
    return MODELS.build(Config.fromfile(osp.join(REPO, config)).model)


def _official(model):
    return {f'module.{k}': v for k, v in model.state_dict().items()}


@pytest.mark.parametrize('eca,config', [
    (False, 'configs/mobilenetv2rla_2xb48_in1k.py'),
    pytest.param(
        True,
        'configs/mobilenetv2rlaeca_2xb48_in1k.py',
        marks=pytest.mark.slow),
])
def test_round_trip_gives_equal_outputs(eca, config):
    ref = randomize_(RefRLAMobileNetV2(eca=eca), seed=1).eval()
    src = _official(ref)
    # The released model lists its single shared recurrent conv 5 times.
    assert sum('recurrent_dsconvs' in k for k in src) == 5
    converted = convert_rlanet_state_dict(src)
    assert len(converted) == len(src) - 4
    model = _build_classifier(config).eval()
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert converted['head.fc.weight'] is src['module.classifier.1.weight']
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x)
        logits = model(x, mode='tensor')
        # Odd sizes crash the authors' code (2x2 pooling of h); ours runs.
        odd = model(torch.rand(1, 3, 97, 131), mode='tensor')
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert odd.shape == (1, 1000) and torch.isfinite(odd).all()


def test_refuses_recurrent_copies_that_differ():
    src = _official(RefRLAMobileNetV2())
    src['module.recurrent_dsconvs.3.weight'] = torch.rand(32, 1, 3, 3)
    with pytest.raises(
            ValueError,
            match=r'recurrent_dsconvs\.3\.weight.*'
            r'shared by all stages.*values differ'):
        convert_rlanet_state_dict(src)


def test_refuses_a_plain_mobilenet_v2():
    import torchvision
    sd = torchvision.models.mobilenet_v2().state_dict()
    with pytest.raises(ValueError, match='Not an official RLANet'):
        convert_rlanet_state_dict(sd)


def test_tool_converts_a_mobilenet_checkpoint(tmp_path):
    from tools.model_converters.rlanet_to_mmrla import main
    ref = randomize_(RefRLAMobileNetV2(eca=True), seed=2).eval()
    src = tmp_path / 'dsrla_mobilenetv2_k32_eca_2707.pth.tar'
    torch.save(
        {
            'epoch': 400,
            'arch': 'dsrla_mobilenetv2_k32_eca',
            'state_dict': _official(ref),
            'best_acc1': torch.tensor(72.93)
        }, src)
    dst = tmp_path / 'rla_ecamobilenetv2_in1k.pth'
    assert main([str(src), str(dst)]) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['arch'] == 'dsrla_mobilenetv2_k32_eca'
    model = _build_classifier('configs/mobilenetv2rlaeca_2xb48_in1k.py')
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), ref(x), atol=1e-5, rtol=1e-5)
