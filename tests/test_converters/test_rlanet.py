import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmrla.converters import convert_rlanet_state_dict
from mmrla.models import RLAResNet
from tests.fixtures.reference_models import RefRLAResNet, randomize_
from tests.fixtures.rlanet_checkpoints import authors_imagenet_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _build_classifier(**backbone):
    from mmpretrain.models import ImageClassifier  # noqa: F401
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/r50rla.py'))
    cfg.model.backbone.update(backbone)
    return MODELS.build(cfg.model)


def _official(model):
    return {f'module.{k}': v for k, v in model.state_dict().items()}


@pytest.mark.parametrize('variant', [
    dict(ref=dict(), ours=dict()),
    dict(ref=dict(eca=[5, 5, 5, 7]), ours=dict(eca_kernel_sizes=(5, 5, 5, 7))),
    dict(
        ref=dict(se=True, groups=32, width=4),
        ours=dict(se_ratio=16, groups=32, base_width=4)),
])
def test_round_trip_gives_equal_outputs(variant):
    ref = randomize_(RefRLAResNet(**variant['ref'])).eval()
    converted = convert_rlanet_state_dict(_official(ref))
    model = _build_classifier(**variant['ours']).eval()
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x)
        logits = model(x, mode='tensor')
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_conversion_is_pure_and_complete():
    ref = RefRLAResNet()
    src = _official(ref)
    snapshot = dict(src)
    converted = convert_rlanet_state_dict(src)
    assert src == snapshot
    assert len(converted) == len(src)
    assert converted['backbone.layer1.0.rla_norm.weight'] is \
        src['module.stage_bns.0.0.weight']
    assert converted['backbone.rla_recurrent_convs.3.weight'] is \
        src['module.recurrent_convs.3.weight']
    assert converted['head.fc.weight'].shape == (1000, 2080)


def test_prefix_free_state_dict_is_accepted():
    ref = RefRLAResNet()
    converted = convert_rlanet_state_dict(ref.state_dict())
    assert 'backbone.rla_out_norm.running_var' in converted


def test_refuses_a_plain_resnet():
    import torchvision
    sd = torchvision.models.resnet50().state_dict()
    with pytest.raises(
            ValueError,
            match=r"Not an official RLANet.*"
            r"stage_bns\.0\.0\.weight"):
        convert_rlanet_state_dict(sd)


def test_refuses_an_already_converted_checkpoint():
    model = RLAResNet(depth=50)
    sd = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='needs no conversion'):
        convert_rlanet_state_dict(sd)


def test_refuses_unknown_keys():
    sd = _official(RefRLAResNet())
    sd['module.stages.0.0.extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match="Unknown key 'stages.0.0.extra"):
        convert_rlanet_state_dict(sd)


@pytest.fixture
def official_checkpoint(tmp_path):
    ref = randomize_(RefRLAResNet(eca=[5, 5, 5, 7]), seed=3).eval()
    path = tmp_path / 'ecanet50_rla_2215.pth.tar'
    torch.save(authors_imagenet_checkpoint(ref, 'rla_resnet50_eca'), path)
    return ref, path


def _run_tool(*args):
    from tools.model_converters.rlanet_to_mmrla import main
    return main([str(a) for a in args])


def test_tool_converts_and_detector_backbone_loads_with_prefix(
        official_checkpoint, tmp_path):
    ref, src = official_checkpoint
    dst = tmp_path / 'out' / 'rla_ecaresnet50.pth'
    assert _run_tool(src, dst) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['epoch'] == 120
    assert ckpt['meta']['arch'] == 'rla_resnet50_eca'

    backbone = RLAResNet(
        depth=50,
        eca_kernel_sizes=(5, 5, 5, 7),
        out_indices=(0, 1, 2, 3),
        concat_hidden=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    backbone.init_weights()
    loaded = backbone.state_dict()
    expected = {
        k[len('backbone.'):]: v
        for k, v in ckpt['state_dict'].items() if k.startswith('backbone.')
    }
    # Every detection-backbone key comes from the file (none missing) ...
    assert set(loaded) <= set(expected)
    for key, value in loaded.items():
        assert torch.equal(value, expected[key]), key
    # ... and only h's final update and output norm stay unused.
    assert sorted(set(expected) - set(loaded)) == sorted(
        k for k in expected
        if k.startswith(('layer4.2.rla_norm.', 'rla_out_norm.')))


def test_tool_refuses_to_overwrite(official_checkpoint, tmp_path, capsys):
    _, src = official_checkpoint
    dst = tmp_path / 'exists.pth'
    dst.write_bytes(b'my trained model')
    assert _run_tool(src, dst) == 1
    assert 'pass --force' in capsys.readouterr().err
    assert dst.read_bytes() == b'my trained model'
    assert _run_tool(src, dst, '--force') == 0


def test_tool_refuses_wrong_checkpoints(tmp_path, capsys):
    import torchvision
    wrong = tmp_path / 'resnet50.pth'
    torch.save({'state_dict': torchvision.models.resnet18().state_dict()},
               wrong)
    assert _run_tool(wrong, tmp_path / 'a.pth') == 1
    err = capsys.readouterr().err
    assert 'Not an official RLANet checkpoint' in err
    # The example files keep their extensions.
    assert err.rstrip().endswith('e.g. resnet50_rla_2283.pth.tar or '
                                 'faster_rcnn_r50rla_fpn_1x_coco_388.pth.')
    garbage = tmp_path / 'garbage.pth.tar'
    garbage.write_bytes(b'not a checkpoint')
    assert _run_tool(garbage, tmp_path / 'b.pth') == 1
    assert 'Cannot load' in capsys.readouterr().err
    assert _run_tool(tmp_path / 'missing.pth', tmp_path / 'c.pth') == 1
    assert 'does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'a.pth').exists()
