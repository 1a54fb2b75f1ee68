"""A file of another model is refused with one line saying what the file
is, by the checks of :mod:`mmrla.weights` that the tools run and that
library code calls; the models themselves load any state dict they are
given, as torch's and mmengine's modules do."""
import pytest
import torch
import torchvision
from mmengine.config import Config

from mmrla.errors import UserError
from mmrla.weights import (check_pretrained_file, check_pretrained_weights,
                           check_start_weights, describe_state_dict,
                           load_checked_checkpoint)
from tests.fixtures.console import assert_line
from tests.fixtures.tiny_imagenet import REPO  # noqa: F401  (mmrla on path)


@pytest.fixture(scope='module')
def torchvision_file(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('tv') / 'resnet18-f37072fd.pth')
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def _classifier(depth=18):
    from mmpretrain.models import build_classifier

    import mmrla.models  # noqa: F401
    return build_classifier(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='RLAResNet',
                depth=depth,
                out_indices=(3, ),
                concat_hidden=True),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead', num_classes=10, in_channels=512 + 32)))


@pytest.mark.parametrize('depth, blocks, bottleneck',
                         [(18, (2, 2, 2, 2), False), (50, (3, 4, 6, 3), True),
                          (101, (3, 4, 23, 3), True),
                          (152, (3, 8, 36, 3), True)])
def test_torchvision_resnets_are_named_with_their_depth(
        depth, blocks, bottleneck):
    convs = ('conv1', 'conv2', 'conv3') if bottleneck else ('conv1', 'conv2')
    keys = ['conv1.weight', 'bn1.weight', 'fc.weight', 'fc.bias'] + [
        f'layer{s + 1}.{b}.{c}.weight' for s, n in enumerate(blocks)
        for b in range(n) for c in convs
    ]
    assert describe_state_dict(keys) == \
        f'a torchvision ResNet-{depth} classification file'


def test_loading_a_torchvision_file_into_a_named_model_is_refused(
        torchvision_file):
    import mmpretrain

    import mmrla  # noqa: F401  (registers the model names)
    model = mmpretrain.get_model('rla-resnet50_4xb64_in1k')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError) as error:
        load_checked_checkpoint(model, torchvision_file)
    message = str(error.value)
    assert '\n' not in message
    assert message.startswith(f'{torchvision_file} does not fit the model')
    assert 'keep random weights' in message
    assert 'Use the config that the checkpoint was trained' in message
    # Nothing was loaded.
    assert all(
        torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_checkpoint_of_the_model_loads(tmp_path):
    model = _classifier()
    path = str(tmp_path / 'own.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=3)), path)
    other = _classifier()
    checkpoint = load_checked_checkpoint(other, path)
    assert checkpoint['meta'] == dict(epoch=3)
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value), key


def test_models_load_any_state_dict_they_are_given():
    # Refusing files is the checks' job: a backbone loads non-strictly as
    # every torch module does, and reports what did not fit.
    state = _classifier().backbone.state_dict()
    keys = list(state)
    fewer = {k: state[k] for k in keys[:len(keys) // 4]}
    fewer['fc.weight'] = torch.zeros(1)
    result = _classifier().backbone.load_state_dict(fewer, strict=False)
    assert result.unexpected_keys == ['fc.weight']
    # (BN's num_batches_tracked may be missing: torch fills it in.)
    assert set(result.missing_keys) == {
        k
        for k in keys[len(keys) // 4:] if not k.endswith('num_batches_tracked')
    }


def _pretrained_backbone(checkpoint: str, **init_cfg) -> Config:
    """A config whose backbone starts from ``checkpoint``."""
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint, **init_cfg)
    return Config(dict(model=dict(backbone=dict(init_cfg=init_cfg))))


def test_missing_pretrained_backbone_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _pretrained_backbone('checkpoints/rla_resnet50_in1k.pth')
    with pytest.raises(UserError, match='rla_resnet50_in1k.pth'):
        check_pretrained_weights(cfg)
    cfg.model.backbone.init_cfg = None
    check_pretrained_weights(cfg)


def test_a_missing_released_backbone_names_the_converter(tmp_path):
    # The file name of the converted RLA-MobileNetV2 weights, in another
    # folder than the configs': the authors' file is still named.
    missing = str(tmp_path / 'rla_mobilenetv2_in1k.pth')
    with pytest.raises(FileNotFoundError) as error:
        check_pretrained_file(missing)
    assert_line(
        str(error.value), missing, 'not found',
        'rlanet_to_mmrla.py dsrla_mobilenetv2_k32_2762.pth.tar',
        '--cfg-options model.backbone.init_cfg=None')


def test_a_backbone_init_cfg_with_a_prefix_the_file_lacks(torchvision_file):
    cfg = _pretrained_backbone(torchvision_file, prefix='backbone')
    with pytest.raises(UserError) as error:
        check_start_weights(cfg, _classifier())
    message = str(error.value)
    assert message.startswith(
        f'{torchvision_file} (model.backbone.init_cfg) would set only 0 of '
        'the ')
    assert 'a torchvision ResNet-18 classification file' in message
    assert 'model.backbone.init_cfg=None' in message
