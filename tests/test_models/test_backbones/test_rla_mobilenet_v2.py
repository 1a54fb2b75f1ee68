import math

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.models import RLAMobileNetV2
from mmrla.models.backbones.rla_mobilenet_v2 import RLAInvertedResidualDeploy
from tests.fixtures.equivalence import assert_deploy_equals_eval
from tests.fixtures.models import (assert_all_params_have_grads,
                                   assert_cuda_fp16_autocast,
                                   assert_dtype_autocast_and_channels_last,
                                   assert_with_cp_matches, num_params)
from tests.fixtures.reference_models import randomize_

ECA = (1, 1, 1, 1, 3, 3, 3)
ROW_CHANNELS = (16, 24, 32, 64, 96, 160, 320)
# Output stride of each row: stem /2, then rows 1, 2, 3 and 5 stride 2.
ROW_STRIDES = (2, 4, 8, 16, 16, 32, 32)


def _size(size: int, stride: int) -> int:
    for _ in range(int(math.log2(stride))):
        size = math.ceil(size / 2)
    return size


@pytest.mark.parametrize('kwargs,expected', [
    (dict(), 3_624_168),
    (dict(eca_kernel_sizes=ECA), 3_624_199),
    (dict(share_recurrent_conv=False), 3_625_320),
])
def test_param_count_matches_authors_and_paper(kwargs, expected):
    model = RLAMobileNetV2(**kwargs)
    fc = nn.Linear(model.out_channels[-1], 1000)
    assert model.out_channels == (1280, )
    assert num_params(model) + num_params(fc) == expected
    # Table 3 of the paper, in units of 2**20.
    assert round(expected / 2**20, 2) == 3.46


def test_structure_follows_the_released_model():
    model = RLAMobileNetV2(eca_kernel_sizes=ECA)
    assert [len(getattr(model, f'layer{i}'))
            for i in range(1, 8)] == [1, 2, 3, 4, 3, 3, 1]
    assert model.layer1[0].expand_conv is None
    # h joins after the expansion: 96 expanded + 32 hidden channels.
    dw = model.layer2[0].depthwise_conv.conv
    assert (dw.in_channels, dw.groups, dw.stride) == (96 + 32, 96 + 32, (2, 2))
    assert not model.layer2[0].linear_conv.with_activation
    # One 1x1 conv per row, one shared depthwise recurrent conv.
    assert len(model.rla_out_convs) == 7
    assert len(model.rla_recurrent_convs) == 1
    rec = model.rla_recurrent_convs[0]
    assert (rec.in_channels, rec.out_channels, rec.groups,
            rec.kernel_size) == (32, 32, 32, (3, 3))
    assert rec.bias is None
    assert model.row_stages == [0, 1, 2, 3, 3, 4, 4]
    # ECA kernel 1 below 96 channels, 3 from 96 on.
    assert model.layer4[0].eca.conv.kernel_size == (1, )
    assert model.layer5[0].eca.conv.kernel_size == (3, )
    assert model.conv2.conv.in_channels == 320 + 32
    unshared = RLAMobileNetV2(share_recurrent_conv=False)
    assert len(unshared.rla_recurrent_convs) == 5


@pytest.mark.parametrize('size', [(64, 64), (97, 131), (225, 225)])
def test_classification_output_at_any_size(size):
    model = RLAMobileNetV2().eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, *size))
    assert out.shape == (1, 1280, _size(size[0], 32), _size(size[1], 32))
    assert torch.isfinite(out).all()


def test_multi_scale_outputs():
    model = RLAMobileNetV2(out_indices=(0, 1, 2, 3, 4, 5, 6, 7)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 97, 131))
    assert model.out_channels == ROW_CHANNELS + (1280, )
    assert [tuple(o.shape) for o in outs] == [
        (1, c, _size(97, s), _size(131, s))
        for c, s in zip(ROW_CHANNELS + (1280, ), ROW_STRIDES + (32, ))
    ]


def test_widen_factor_scales_channels():
    model = RLAMobileNetV2(widen_factor=0.5, out_indices=(6, 7))
    assert model.conv1.conv.out_channels == 16
    assert model.out_channels == (160, 1280)
    wide = RLAMobileNetV2(widen_factor=1.4)
    assert wide.out_channels == (1792, )
    with torch.no_grad():
        (out, ) = wide.eval()(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 1792, 1, 1)


def test_width_mult_is_accepted_as_the_old_name_of_widen_factor():
    with pytest.warns(FutureWarning) as record:
        old = RLAMobileNetV2(width_mult=0.5, out_indices=(6, 7))
    assert [str(w.message) for w in record] == [
        'RLAMobileNetV2: "width_mult" is deprecated, please use '
        '"widen_factor" instead.'
    ]
    assert old.widen_factor == 0.5
    assert old.out_channels == (160, 1280)
    with pytest.raises(ValueError, match='keep only "widen_factor"'):
        RLAMobileNetV2(width_mult=0.5, widen_factor=0.5)


def test_dense_outputs_build_nothing_unused():
    model = RLAMobileNetV2(out_indices=(1, 2, 4))
    assert model.conv2 is None and model.rla_out_norm is None
    assert not hasattr(model, 'layer6')
    assert model.layer5[-1].rla_norm is None
    assert model.layer5[-2].rla_norm is not None


@pytest.mark.parametrize('out_indices,share', [((7, ), True),
                                               ((1, 2, 4, 6), True),
                                               ((0, ), False),
                                               ((2, 5, 7), False)])
def test_every_parameter_gets_a_gradient(out_indices, share):
    model = RLAMobileNetV2(
        out_indices=out_indices,
        eca_kernel_sizes=ECA,
        share_recurrent_conv=share)
    model.init_weights()
    model.train()
    assert_all_params_have_grads(model, model(torch.rand(2, 3, 33, 31)))


def test_frozen_stages_and_norm_eval():
    model = RLAMobileNetV2(frozen_stages=3, norm_eval=True)
    model.train()
    frozen = [
        model.conv1, model.layer1, model.layer2, model.layer3,
        *model.rla_out_convs[:3]
    ]
    for m in frozen:
        assert all(not p.requires_grad for p in m.parameters())
        assert not m.training
    # The shared recurrent conv also serves the unfrozen rows.
    for m in [
            model.layer4, model.rla_out_convs[3], model.conv2,
            model.rla_recurrent_convs[0]
    ]:
        assert all(p.requires_grad for p in m.parameters())
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    before = model.layer1[0].rla_norm.running_mean.clone()
    outs = model(torch.rand(2, 3, 64, 64))
    assert torch.equal(before, model.layer1[0].rla_norm.running_mean)
    assert_all_params_have_grads(model, outs)


def test_frozen_stages_per_stage_recurrent_convs():
    # Stage 3 spans rows 3 and 4 (64 and 96 channels at 1/16): it is frozen
    # only once both rows are.
    model = RLAMobileNetV2(share_recurrent_conv=False, frozen_stages=4)
    model.train()
    assert not model.rla_recurrent_convs[2].weight.requires_grad
    assert model.rla_recurrent_convs[3].weight.requires_grad
    model = RLAMobileNetV2(share_recurrent_conv=False, frozen_stages=5)
    model.train()
    assert not model.rla_recurrent_convs[3].weight.requires_grad
    assert model.rla_recurrent_convs[4].weight.requires_grad
    everything = RLAMobileNetV2(frozen_stages=8)
    everything.train()
    assert not any(p.requires_grad for p in everything.parameters())


def test_with_cp_gives_equal_outputs_and_grads():
    torch.manual_seed(0)
    plain = RLAMobileNetV2(frozen_stages=1)
    plain.init_weights()
    ckpt = RLAMobileNetV2(frozen_stages=1, with_cp=True)
    assert_with_cp_matches(plain, ckpt, torch.rand(2, 3, 48, 48))


def test_dtype_autocast_and_channels_last():
    assert_dtype_autocast_and_channels_last(RLAMobileNetV2(),
                                            torch.rand(1, 3, 35, 32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_forward_and_fp16_autocast():
    assert_cuda_fp16_autocast(
        RLAMobileNetV2(out_indices=(1, 2, 4, 7)), torch.rand(2, 3, 97, 131))


def test_other_norms():
    model = RLAMobileNetV2(
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)).eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 1280, 1, 1)
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())


@pytest.mark.parametrize('kwargs,match', [
    (dict(widen_factor=0), 'widen_factor must be a positive'),
    (dict(rla_channel=0), 'rla_channel must be a positive'),
    (dict(eca_kernel_sizes=(3, 3)),
     r'one kernel size per row \(7\).*\(1, 1, 1, 1, 3, 3, 3\)'),
    (dict(eca_kernel_sizes=(1, 1, 1, 1, 3, 3, 4)), 'positive odd'),
    (dict(out_indices=(8, )), r'out of range: use 0\.\.6 .* 7 for'),
    (dict(out_indices=()), 'non-empty'),
    (dict(frozen_stages=9), r'frozen_stages must be .* -1\.\.8'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RLAMobileNetV2(**kwargs)


@pytest.mark.parametrize(
    'x',
    [torch.rand(3, 64, 64), torch.rand(1, 1, 64, 64)])
def test_bad_input_raises_clear_error(x):
    with pytest.raises(ValueError, match=r'expects images of shape \(N, 3'):
        RLAMobileNetV2()(x)


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(eca_kernel_sizes=ECA, share_recurrent_conv=False),
    dict(out_indices=(1, 2, 4)),
    dict(cell_cfg=dict(type='PostActRLACell')),
])
def test_deploy_equals_eval_in_float64(kwargs):
    model = randomize_(RLAMobileNetV2(**kwargs))
    deployed = assert_deploy_equals_eval(model, torch.rand(2, 3, 45, 39))
    blocks = [b for name in deployed.layers for b in getattr(deployed, name)]
    assert all(isinstance(b, RLAInvertedResidualDeploy) for b in blocks)
    # Every batch norm but the RLA norms is folded into its conv.
    left = {
        name.rsplit('.', 1)[-1]
        for name, m in deployed.named_modules() if isinstance(m, _BatchNorm)
    }
    assert left <= {'rla_norm', 'rla_out_norm'}, left


@pytest.mark.parametrize('kwargs', [
    dict(norm_cfg=dict(type='GN', num_groups=8)),
    dict(conv_cfg=dict(type='ConvWS')),
])
def test_deploy_keeps_blocks_whose_layers_do_not_fold(kwargs):
    model = randomize_(RLAMobileNetV2(**kwargs))
    deployed = assert_deploy_equals_eval(model, torch.rand(1, 3, 32, 32))
    assert not any(
        isinstance(b, RLAInvertedResidualDeploy) for b in deployed.layer2)


def test_deploy_folds_sync_batch_norms_in_eval_mode():
    # mmengine's ``sync_bn`` converts norms after the model is built; in
    # eval mode a SyncBatchNorm is the batch norm it folds as.
    model = nn.SyncBatchNorm.convert_sync_batchnorm(
        randomize_(RLAMobileNetV2()))
    deployed = assert_deploy_equals_eval(model, torch.rand(1, 3, 32, 32))
    assert all(
        isinstance(b, RLAInvertedResidualDeploy) for b in deployed.layer2)


def test_out_indices_accept_any_sequence_of_ints():
    model = RLAMobileNetV2(out_indices=range(0, 7))
    assert model.out_channels == ROW_CHANNELS
    assert RLAMobileNetV2(out_indices=[2, 4]).out_channels == (32, 96)
