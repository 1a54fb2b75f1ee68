"""A file of another model loaded into an RLA backbone, by any loader, is
refused with one line saying what the file is, instead of leaving the
backbone random."""
import pytest
import torch
import torchvision
from mmengine.runner import load_checkpoint

from mmrla.converters import (ForeignCheckpointError, check_foreign_state_dict,
                              describe_state_dict)
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


def test_get_model_refuses_a_torchvision_file(torchvision_file):
    import mmpretrain

    import mmrla  # noqa: F401  (registers the model names)
    with pytest.raises(ForeignCheckpointError) as error:
        mmpretrain.get_model(
            'rla-resnet50_4xb64_in1k', pretrained=torchvision_file)
    message = str(error.value)
    assert '\n' not in message
    assert message.startswith('The checkpoint sets only 0 of the ')
    assert 'it is a torchvision ResNet-18 classification file' in message


def test_load_checkpoint_refuses_a_torchvision_file(torchvision_file):
    model = _classifier()
    with pytest.raises(ForeignCheckpointError, match='torchvision ResNet-18'):
        load_checkpoint(model, torchvision_file, logger='silent')


def test_keys_that_fit_by_name_but_not_by_shape_count_as_unset(tmp_path):
    from mmpretrain.registry import MODELS
    other = MODELS.build(
        dict(type='RLAResNet', depth=18, base_channels=32, stem_channels=32))
    with pytest.raises(ForeignCheckpointError, match='sets only'):
        _classifier().backbone.load_state_dict(
            other.state_dict(), strict=False)


def test_checkpoints_of_the_model_still_load(tmp_path):
    model = _classifier()
    path = str(tmp_path / 'own.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    load_checkpoint(_classifier(), path, logger='silent')
    # Half of the backbone set is still a deliberate partial load ...
    state = model.backbone.state_dict()
    keys = [k for k in state if not k.endswith('num_batches_tracked')]
    half = {k: state[k] for k in keys[:len(keys) // 2 + 1]}
    _classifier().backbone.load_state_dict(half, strict=False)
    check_foreign_state_dict(model.backbone, half)
    # ... fewer is not.
    fewer = {k: state[k] for k in keys[:len(keys) // 2 - 1]}
    with pytest.raises(ForeignCheckpointError, match='sets only'):
        _classifier().backbone.load_state_dict(fewer, strict=False)


def test_backbone_init_cfg_with_a_prefix_the_file_lacks(torchvision_file):
    from mmpretrain.registry import MODELS
    backbone = MODELS.build(
        dict(
            type='RLAResNet',
            depth=18,
            init_cfg=dict(
                type='Pretrained',
                checkpoint=torchvision_file,
                prefix='backbone.')))
    with pytest.raises(ForeignCheckpointError) as error:
        backbone.init_weights()
    assert str(error.value).startswith(
        f"{torchvision_file} (init_cfg, prefix 'backbone.'): The checkpoint "
        'sets only 0 of the ')
    assert 'a torchvision ResNet-18 classification file' in str(error.value)
