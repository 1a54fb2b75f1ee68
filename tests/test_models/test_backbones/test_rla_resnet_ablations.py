"""The paper's ablation variants (Tables 11, 13 and 15) as RLAResNet options
keep the contract of the default model: any input size, both output modes,
every parameter gets a gradient, frozen_stages, with_cp, dtypes and the
fast paths."""
import pytest
import torch
import torch.nn as nn
import torchvision

from mmrla.models import RLAMobileNetV2, RLAResNet
from tests.fixtures.equivalence import assert_deploy_equals_eval
from tests.fixtures.models import (assert_all_params_have_grads, assert_frozen,
                                   assert_with_cp_matches, num_params)
from tests.fixtures.reference_models import randomize_
from tests.fixtures.sizes import slow_where

# The options of configs/ablations/ (see docs_ablations.md).
VARIANTS = {
    'v1': dict(readout='norm_tanh'),
    'v2': dict(update_position='after'),
    'v5': dict(rla_source='shortcut'),
    'v6': dict(rla_source='shortcut', update_position='after'),
    'postact': dict(cell_cfg=dict(type='PostActRLACell'), readout='none'),
    'unshared': dict(share_rla_convs=False, rla_source='residual'),
    'noexchange': dict(exchange=False),
    'convlstm': dict(cell_cfg=dict(type='ConvLSTMCell'), readout='none'),
    'convgru': dict(cell_cfg=dict(type='ConvGRUCell'), readout='none'),
}
# Without exchange only the classifier reads h: no detection mode.
DETECTION = sorted(set(VARIANTS) - {'noexchange'})


def _build(name, **kwargs):
    torch.manual_seed(0)
    model = RLAResNet(**VARIANTS[name], **kwargs)
    model.init_weights()
    return model


def _detection(name, depth=18, **kwargs):
    return _build(
        name,
        depth=depth,
        out_indices=(0, 1, 2, 3),
        concat_hidden=False,
        **kwargs)


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_any_input_size_in_both_modes(name):
    x = torch.rand(1, 3, 65, 63)
    model = _build(name, depth=18).eval()
    with torch.no_grad():
        (out, ) = model(x)
    assert out.shape == (1, 512 + 32, 3, 2) and torch.isfinite(out).all()
    if name in DETECTION:
        model = _detection(name).eval()
        with torch.no_grad():
            outs = model(x)
        assert [o.shape[1:] for o in outs] == [(64, 17, 16), (128, 9, 8),
                                               (256, 5, 4), (512, 3, 2)]


@pytest.mark.parametrize(
    'name',
    slow_where(sorted(VARIANTS), {'convgru', 'convlstm', 'noexchange'}))
def test_every_parameter_gets_a_gradient(name):
    x = torch.rand(2, 3, 64, 64)
    model = _build(name, depth=50).train()
    assert_all_params_have_grads(model, model(x))
    if name in DETECTION:
        model = _detection(name).train()
        assert_all_params_have_grads(model, model(x))


def test_unshared_keys_and_detection_mode():
    model = _detection('unshared', depth=50)
    assert model.rla_out_convs is None and model.rla_recurrent_convs is None
    first = model.layer1[0]
    assert first.rla_out_conv.in_channels == 256
    assert first.rla_recurrent_conv.weight.shape == (32, 32, 3, 3)
    # The last block's update feeds nothing in detection mode.
    assert model.layer4[-1].rla_out_conv is None
    assert model.layer4[-1].rla_norm is None
    keys = model.state_dict().keys()
    assert 'layer3.5.rla_out_conv.weight' in keys
    assert 'layer3.5.rla_recurrent_conv.weight' in keys
    assert not any(k.startswith('rla_out_convs') for k in keys)


@pytest.mark.parametrize('name', ['unshared', 'convlstm', 'noexchange'])
def test_frozen_stages(name):
    model = _build(name, depth=18, frozen_stages=2).train()
    frozen = [model.conv1, model.layer1, model.layer2]
    if model.share_rla_convs:
        frozen += [model.rla_out_convs[1], model.rla_recurrent_convs[1]]
    assert_frozen(model, frozen, [model.layer3, model.layer4])
    assert_all_params_have_grads(model, model(torch.rand(2, 3, 64, 64)))
    model = _build(name, depth=18, frozen_stages=4).train()
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('name', ['convlstm', 'convgru', 'unshared'])
def test_with_cp_gives_equal_outputs_and_grads(name):
    assert_with_cp_matches(
        _build(name, depth=18, frozen_stages=1),
        RLAResNet(**VARIANTS[name], depth=18, frozen_stages=1, with_cp=True),
        torch.rand(2, 3, 48, 48))


@pytest.mark.parametrize('name', ['convlstm', 'convgru', 'postact'])
def test_dtypes(name):
    model = _build(name, depth=18).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        (ref, ) = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            (low, ) = model(x)
        (double, ) = model.double()(x.double())
    assert double.dtype == torch.float64
    torch.testing.assert_close(double.float(), ref, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(low.float()).all()
    torch.testing.assert_close(low.float(), ref, atol=0.1, rtol=0.05)


@pytest.mark.parametrize(
    'name', ['convlstm', 'convgru', 'noexchange', 'postact', 'unshared'])
def test_deploy_equals_eval_in_float64(name):
    model = randomize_(_build(name, depth=18))
    assert_deploy_equals_eval(model, torch.rand(2, 3, 97, 64))


@pytest.mark.parametrize('k', [8, 12, 16, 24])
def test_rla_channel_of_table13(k):
    """R50 with k channels: torchvision's ResNet-50 plus, per k, the hidden
    state's input channels of each block's conv1 (3776), the update convs
    (3840), the block norms (32) and the read-out norm (2), the fc's extra
    inputs (1000) and four 3x3 recurrent convs (36 k)."""
    model = RLAResNet(depth=50, rla_channel=k).eval()
    resnet50 = num_params(torchvision.models.resnet50())
    count = num_params(model) + num_params(
        nn.Linear(model.out_channels[-1], 1000))
    assert count == resnet50 + 8650 * k + 36 * k * k
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 2048 + k, 2, 2)


@pytest.mark.parametrize('kwargs,match', [
    (dict(cell_cfg=dict(type='ConvRNN')),
     r"Unknown RLA cell type 'ConvRNN'.*'ConvGRUCell', 'ConvLSTMCell', "
     r"'PostActRLACell', 'RLACell'"),
    (dict(update_position='middle'),
     r"update_position must be one of \('before', 'after'\)"),
    (dict(readout='relu'),
     r"readout must be one of \('norm_act', 'norm_tanh', 'none'\)"),
    (dict(rla_source='input'),
     r"rla_source must be one of \('output', 'residual', 'shortcut'\)"),
    (dict(cell_cfg=dict(type='ConvLSTMCell'), update_position='after'),
     r"ConvLSTMCell takes the update as its input; use "
     r"update_position='before' or .*RLACell, PostActRLACell"),
    (dict(exchange=False, concat_hidden=False, out_indices=(0, 1, 2, 3)),
     'Use exchange=True or concat_hidden=True'),
])
def test_bad_combinations_name_the_valid_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RLAResNet(depth=18, **kwargs)


@pytest.mark.parametrize('cell', ['ConvLSTMCell', 'ConvGRUCell'])
def test_gated_cells_refuse_a_depthwise_backbone(cell):
    with pytest.raises(ValueError, match='no depthwise form'):
        RLAMobileNetV2(cell_cfg=dict(type=cell))


def test_postact_cell_serves_mobilenet_v2():
    default = RLAMobileNetV2().eval()
    post = RLAMobileNetV2(cell_cfg=dict(type='PostActRLACell')).eval()
    post.load_state_dict(default.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        (a, ), (b, ) = default(x), post(x)
    assert a.shape == b.shape and not torch.allclose(a, b)
