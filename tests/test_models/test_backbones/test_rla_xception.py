"""The thin CIFAR Xception and RLA-Xception (paper, appendix B.1, Tables 2
and 9)."""
import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.models import RLAXception, XceptionBlock
from tests.fixtures.equivalence import assert_deploy_equals_eval
from tests.fixtures.models import (assert_all_params_have_grads, assert_frozen,
                                   assert_with_cp_matches, num_params)
from tests.fixtures.reference_models import randomize_

K = 16
STAGE_CHANNELS = (64, 128, 512)


def _size(size: int, downsamplings: int) -> int:
    for _ in range(downsamplings):
        size = math.ceil(size / 2)
    return size


def _classifier_params(with_rla: bool, num_classes: int) -> int:
    model = RLAXception(with_rla=with_rla)
    fc = nn.Linear(model.out_channels[-1], num_classes)
    return num_params(model) + num_params(fc)


@pytest.mark.parametrize('num_classes,base,delta,paper,paper_delta', [
    (10, 2_701_882, 62_128, 2.70, 0.07),
    (100, 2_748_052, 63_568, 2.75, 0.06),
])
def test_param_counts_match_table_2(num_classes, base, delta, paper,
                                    paper_delta):
    plain = _classifier_params(False, num_classes)
    rla = _classifier_params(True, num_classes)
    assert (plain, rla - plain) == (base, delta)
    # The paper's unit is 10**6 here (in 2**20: 2.58M and 2.62M).
    assert abs(plain / 1e6 - paper) <= 0.02 * paper
    assert abs(rla / 1e6 - (paper + paper_delta)) <= 0.02 * (
        paper + paper_delta)
    assert abs((rla - plain) / 1e6 - paper_delta) <= 0.01
    assert round(plain / 1e6, 2) == paper
    # The arithmetic of the docstring: RLA adds (2752 + 12 * 11 + 960 + 2) k
    # + 27 k + n k with a depthwise recurrent conv.
    assert delta == (2752 + 12 * 11 + 960 + 2) * K + 27 * K + num_classes * K


def test_k12_or_a_dense_recurrent_conv_would_miss_table_2():
    # Why k = 16 with a depthwise recurrent conv (see the docstring).
    plain = num_params(RLAXception(with_rla=False))
    k12 = num_params(RLAXception(rla_channel=12)) + 12 * 10 - plain
    assert abs(k12 / 1e6 - 0.07) > 0.02
    dense = RLAXception(cell_cfg=dict(type='RLACell', depthwise=False))
    assert dense.rla_recurrent_convs[0].groups == 1
    dense_delta = num_params(dense) + K * 100 - plain
    assert abs(dense_delta / 1e6 - 0.06) > 0.01


def test_structure_is_the_reconstructed_table_9():
    model = RLAXception()
    convs = [
        m for m in model.modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size == (
            3, 3) and m not in set(model.rla_recurrent_convs)
    ]
    depthwise = [m for m in convs if m.groups > 1]
    # Depth unchanged: 2 stem convs and 34 separable convs.
    assert len(convs) - len(depthwise) == 2 and len(depthwise) == 34
    assert (model.conv1.conv.out_channels, model.conv1.conv.stride,
            model.conv2.conv.out_channels) == (16, (1, 1), 32)
    assert [len(model.layer1), len(model.layer2), len(model.layer3)] == \
        [1, 1, 10]
    blocks = [*model.layer1, *model.layer2, *model.layer3]
    assert [len(b.sep_convs) for b in blocks] == [2, 2, 2] + [3] * 8 + [2]
    # Average pooling in entry modules 2 and 3 only (two downsamplings).
    assert [b.pool is not None for b in blocks] == \
        [False, True, True] + [False] * 9
    pool = model.layer2[0].pool
    assert isinstance(pool, nn.AvgPool2d) and not pool.count_include_pad
    assert model.layer2[0].shortcut.conv.stride == (2, 2)
    assert model.layer1[0].shortcut.conv.stride == (1, 1)
    assert model.layer3[1].shortcut is None
    assert model.layer3[9].shortcut.conv.out_channels == 512
    assert not model.layer1[0].start_with_act
    assert all(b.start_with_act for b in blocks[1:])
    # h joins the first separable conv: its depthwise conv has C + k.
    dw = model.layer3[4].sep_convs[0].depthwise_conv
    assert (dw.conv.in_channels, dw.conv.groups) == (256 + K, 256 + K)
    assert not dw.with_norm and not dw.with_activation and dw.conv.bias is None
    assert model.layer3[4].sep_convs[1].depthwise_conv.conv.in_channels == 256
    # One 1x1 conv per stage and width, one depthwise recurrent conv per
    # stage.
    assert [c.in_channels for c in model.rla_out_convs] == [64, 128, 256, 512]
    assert model.out_conv_ids == [[0], [1], [2] * 9 + [3]]
    assert [(c.in_channels, c.groups) for c in model.rla_recurrent_convs] \
        == [(K, K)] * 3
    assert model.out_channels == (512 + K, )
    plain = RLAXception(with_rla=False)
    assert plain.rla_out_convs is None and plain.rla_out_norm is None
    assert plain.out_channels == (512, )
    assert all(b.rla_norm is None for b in plain.modules()
               if isinstance(b, XceptionBlock))


@pytest.mark.parametrize('with_rla', [True, False])
@pytest.mark.parametrize('size', [(8, 8), (13, 21), (32, 32), (64, 64)])
def test_outputs_at_any_size(with_rla, size):
    model = RLAXception(with_rla=with_rla, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, *size))
    channels = STAGE_CHANNELS + (512 + K if with_rla else 512, )
    assert model.out_channels == channels
    assert [tuple(o.shape)
            for o in outs] == [(2, c, _size(size[0], d), _size(size[1], d))
                               for c, d in zip(channels, (0, 1, 2, 2))]
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('with_rla,out_indices', [
    (True, (3, )),
    (True, (0, 1, 2)),
    (True, (0, )),
    (True, (1, 3)),
    (False, (3, )),
    (False, (0, 2)),
])
def test_every_parameter_gets_a_gradient(with_rla, out_indices):
    model = RLAXception(with_rla=with_rla, out_indices=out_indices)
    model.init_weights()
    model.train()
    assert_all_params_have_grads(model, model(torch.rand(2, 3, 11, 9)))


def test_dense_outputs_build_nothing_unused():
    model = RLAXception(out_indices=(0, 2))
    assert model.conv3 is None and model.rla_out_norm is None
    assert model.layer3[-1].rla_norm is None
    assert model.layer3[-2].rla_norm is not None
    # The exit module's update is skipped, so is its 1x1 conv.
    assert [c.in_channels for c in model.rla_out_convs] == [64, 128, 256]
    first = RLAXception(out_indices=(0, ))
    assert not hasattr(first, 'layer2')
    assert len(first.rla_out_convs) == 0
    assert isinstance(first.rla_recurrent_convs[0], nn.Identity)


def _bn(x, norm):
    return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight,
                        norm.bias, False, 0.0, norm.eps)


def _sep(x, sep):
    y = F.conv2d(
        x, sep.depthwise_conv.conv.weight, padding=1, groups=x.shape[1])
    return _bn(
        F.conv2d(y, sep.pointwise_conv.conv.weight), sep.pointwise_conv.norm)


def _reference_module(block, x, h, out_conv, rec_conv):
    """One RLA-Xception module, restated with plain functional ops (eval
    mode): ``cat(relu(x), h)`` through the separable convs, the 3x3
    average pooling, the shortcut; then ``h <- rec(tanh(bn(pool(h) +
    out_conv(out))))``."""
    y = torch.cat([F.relu(x) if block.start_with_act else x, h], 1)
    y = _sep(y, block.sep_convs[0])
    for sep in block.sep_convs[1:]:
        y = _sep(F.relu(y), sep)
    if block.stride == 2:
        y = F.avg_pool2d(y, 3, 2, 1, count_include_pad=False)
    if block.shortcut is None:
        identity = x
    else:
        identity = _bn(
            F.conv2d(x, block.shortcut.conv.weight, stride=block.stride),
            block.shortcut.norm)
    out = y + identity
    if block.stride == 2:
        h = F.avg_pool2d(h, 2, 2, ceil_mode=True)
    h = torch.tanh(_bn(h + F.conv2d(out, out_conv.weight), block.rla_norm))
    return out, F.conv2d(h, rec_conv.weight, padding=1, groups=h.shape[1])


@pytest.mark.parametrize('stage,index', [(1, 0), (2, 0), (3, 0), (3, 4),
                                         (3, 9)])
def test_a_module_equals_its_plain_restatement(stage, index):
    model = randomize_(RLAXception()).eval()
    block = getattr(model, f'layer{stage}')[index]
    out_conv = model.rla_out_convs[model.out_conv_ids[stage - 1][index]]
    rec_conv = model.rla_recurrent_convs[stage - 1]
    x = torch.randn(2, block.in_channels, 9, 7, dtype=torch.float64)
    model.double()
    for h in (torch.randn(2, K, 9, 7, dtype=torch.float64), None):
        with torch.no_grad():
            out, new_h = block(x, h, out_conv, rec_conv)
            ref_out, ref_h = _reference_module(
                block, x,
                torch.zeros_like(x[:, :K]) if h is None else h, out_conv,
                rec_conv)
        torch.testing.assert_close(out, ref_out)
        torch.testing.assert_close(new_h, ref_h)


def test_deploy_equals_eval_in_float64():
    assert_deploy_equals_eval(
        randomize_(RLAXception()), torch.rand(2, 3, 32, 32))
    plain = RLAXception(with_rla=False).switch_to_deploy()
    assert plain.deploy


def test_frozen_stages_and_norm_eval():
    model = RLAXception(frozen_stages=2, norm_eval=True)
    model.train()
    assert_frozen(
        model,
        frozen=[
            model.conv1, model.conv2, model.layer1, model.layer2,
            *model.rla_out_convs[:2], *model.rla_recurrent_convs[:2]
        ],
        trainable=[
            model.layer3, *model.rla_out_convs[2:],
            model.rla_recurrent_convs[2], model.conv3, model.conv4,
            model.rla_out_norm
        ],
        norm_eval=True)
    before = model.layer1[0].rla_norm.running_mean.clone()
    outs = model(torch.rand(2, 3, 16, 16))
    assert torch.equal(before, model.layer1[0].rla_norm.running_mean)
    assert_all_params_have_grads(model, outs)
    everything = RLAXception(frozen_stages=4)
    everything.train()
    assert not any(p.requires_grad for p in everything.parameters())


def test_frozen_plain_model_keeps_only_the_tail_trainable():
    plain = RLAXception(with_rla=False, frozen_stages=3)
    plain.train()
    trainable = {
        n.split('.')[0]
        for n, p in plain.named_parameters() if p.requires_grad
    }
    assert trainable == {'conv3', 'conv4'}
    assert not plain.layer3.training and plain.conv3.training


def test_zero_init_residual_starts_modules_as_their_shortcuts():
    model = RLAXception(zero_init_residual=True)
    model.init_weights()
    norms = [
        b.zero_init_layer for b in model.modules()
        if isinstance(b, XceptionBlock)
    ]
    assert len(norms) == 12
    assert all(
        torch.equal(n.weight, torch.zeros_like(n.weight)) for n in norms)
    # Default (the paper's He init): not zeroed.
    default = RLAXception()
    default.init_weights()
    assert default.layer3[1].zero_init_layer.weight.abs().sum() > 0


def test_with_cp_gives_equal_outputs_and_grads():
    assert_with_cp_matches(
        randomize_(RLAXception(frozen_stages=1)),
        RLAXception(frozen_stages=1, with_cp=True), torch.rand(2, 3, 12, 12))


def test_dtype_autocast_and_channels_last():
    model = randomize_(RLAXception()).eval()
    x = torch.rand(1, 3, 17, 16)
    with torch.no_grad():
        (ref, ) = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            (bf16, ) = model(x)
        (double, ) = copy.deepcopy(model).double()(x.double())
        (cl, ) = model.to(memory_format=torch.channels_last)(
            x.to(memory_format=torch.channels_last))
    assert double.dtype == torch.float64
    scale = ref.abs().max()
    assert (double.float() - ref).abs().max() <= 1e-4 * scale
    assert (cl - ref).abs().max() <= 1e-4 * scale
    assert torch.isfinite(bf16.float()).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_forward_and_fp16_autocast():
    model = RLAXception(out_indices=(0, 2, 3)).cuda()
    x = torch.rand(2, 3, 32, 32, device='cuda')
    with torch.autocast('cuda', dtype=torch.float16):
        outs = model(x)
    assert all(o.is_cuda and torch.isfinite(o).all() for o in outs)
    assert_all_params_have_grads(model, outs)


def test_other_norms_keep_the_concatenation():
    model = RLAXception(norm_cfg=dict(type='GN', num_groups=8)).eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 16, 16))
    assert out.shape == (1, 512 + K, 4, 4)
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='imagenet'), r"Unknown arch 'imagenet'.*\['cifar'\]"),
    (dict(arch=dict(stages=())), 'exactly the keys'),
    (dict(rla_channel=0), 'rla_channel must be a positive.*uses 16'),
    (dict(out_indices=(4, )), r'out of range: use 0\.\.2 .* 3 for'),
    (dict(out_indices=()), 'non-empty'),
    (dict(frozen_stages=5), r'frozen_stages must be .* -1\.\.4'),
    (dict(readout='relu'), 'readout must be one of'),
    (dict(cell_cfg=dict(type='LSTM')), 'Unknown RLA cell type'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RLAXception(**kwargs)


def test_bad_block_stride_raises_a_clear_error():
    with pytest.raises(ValueError, match='stride must be 1 or 2'):
        XceptionBlock(8, (8, 8), stride=3)


@pytest.mark.parametrize(
    'x',
    [torch.rand(3, 32, 32), torch.rand(1, 1, 32, 32)])
def test_bad_input_raises_a_clear_error(x):
    with pytest.raises(ValueError, match=r'expects images of shape \(N, 3'):
        RLAXception()(x)
