import math

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.models import RLAResNet
from tests.fixtures.equivalence import assert_deploy_equals_eval
from tests.fixtures.models import (assert_all_params_have_grads,
                                   assert_with_cp_matches, num_params)
from tests.fixtures.reference_models import randomize_

STAGE_CHANNELS = {
    18: (64, 128, 256, 512),
    34: (64, 128, 256, 512),
    50: (256, 512, 1024, 2048),
    101: (256, 512, 1024, 2048),
    152: (256, 512, 1024, 2048),
}


def _stage_sizes(size):
    """Spatial sizes after stem (/4) and each stage, for 'same' convs."""
    s = math.ceil(size / 2)  # 7x7 stride 2
    s = math.ceil(s / 2)  # max pool stride 2
    return [s, math.ceil(s / 2), math.ceil(s / 4), math.ceil(s / 8)]


@pytest.mark.parametrize('depth,eca,expected', [
    (50, None, 25_870_696),
    (50, (5, 5, 5, 7), 25_870_782),
    (101, None, 45_003_176),
    (152, None, 60_770_792),
])
def test_param_count_matches_authors(depth, eca, expected):
    model = RLAResNet(depth=depth, eca_kernel_sizes=eca)
    fc = nn.Linear(model.out_channels[-1], 1000)
    assert model.out_channels[-1] == 2048 + 32
    assert num_params(model) + num_params(fc) == expected
    # The paper reports the same figure in units of 2**20.
    paper = {
        25_870_696: 24.67,
        25_870_782: 24.67,
        45_003_176: 42.92,
        60_770_792: 57.96
    }[expected]
    assert round(expected / 2**20, 2) == paper


@pytest.mark.parametrize('depth', [18, 34, 50, 101, 152])
@pytest.mark.parametrize('size', [(64, 64), (97, 131)])
def test_shapes_both_modes(depth, size):
    x = torch.rand(2, 3, *size)
    hs, ws = _stage_sizes(size[0]), _stage_sizes(size[1])
    channels = STAGE_CHANNELS[depth]

    cls_model = RLAResNet(depth=depth).eval()
    with torch.no_grad():
        (out, ) = cls_model(x)
    assert out.shape == (2, channels[3] + 32, hs[3], ws[3])
    assert cls_model.out_channels == (channels[3] + 32, )

    det_model = RLAResNet(
        depth=depth, out_indices=(0, 1, 2, 3), concat_hidden=False).eval()
    with torch.no_grad():
        outs = det_model(x)
    assert det_model.out_channels == channels
    assert [tuple(o.shape) for o in outs
            ] == [(2, c, h, w) for c, h, w in zip(channels, hs, ws)]


def test_odd_sizes_that_crash_the_authors_code():
    model = RLAResNet(depth=50).eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 225, 225))
    assert out.shape == (1, 2080, 8, 8)
    assert torch.isfinite(out).all()


def test_detection_mode_skips_the_unconsumed_update():
    model = RLAResNet(depth=50, out_indices=(0, 1, 2, 3), concat_hidden=False)
    assert model.layer4[-1].rla_norm is None
    assert model.layer4[-2].rla_norm is not None
    assert model.rla_out_norm is None
    keys = model.state_dict().keys()
    assert not any(k.startswith('layer4.2.rla_norm') for k in keys)


@pytest.mark.parametrize('concat_hidden,out_indices', [(True, (3, )),
                                                       (True, (0, 3)),
                                                       (False, (0, 1, 2, 3)),
                                                       (False, (3, ))])
@pytest.mark.parametrize('depth', [18, 50])
def test_every_parameter_gets_a_gradient(depth, concat_hidden, out_indices):
    model = RLAResNet(
        depth=depth,
        concat_hidden=concat_hidden,
        out_indices=out_indices,
        eca_kernel_sizes=(3, 3, 3, 5),
        se_ratio=16 if depth == 50 else None)
    model.init_weights()
    model.train()
    outs = model(torch.rand(2, 3, 64, 64))
    assert_all_params_have_grads(model, outs)


def test_frozen_stages_and_norm_eval():
    model = RLAResNet(
        depth=18,
        frozen_stages=2,
        norm_eval=True,
        out_indices=(0, 1, 2, 3),
        concat_hidden=False)
    model.train()
    frozen = [
        model.conv1, model.norm1, model.layer1, model.layer2,
        model.rla_out_convs[0], model.rla_out_convs[1],
        model.rla_recurrent_convs[0], model.rla_recurrent_convs[1]
    ]
    for m in frozen:
        assert all(not p.requires_grad for p in m.parameters())
        assert not m.training
    for m in [
            model.layer3, model.layer4, model.rla_out_convs[2],
            model.rla_recurrent_convs[3]
    ]:
        assert all(p.requires_grad for p in m.parameters())
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    # Frozen BN statistics must not move during training forward passes.
    before = model.layer1[0].bn1.running_mean.clone()
    outs = model(torch.rand(2, 3, 64, 64))
    assert torch.equal(before, model.layer1[0].bn1.running_mean)
    assert_all_params_have_grads(model, outs)


def test_frozen_all_stages_freezes_final_rla_norm():
    model = RLAResNet(depth=18, frozen_stages=4)
    model.train()
    assert not any(p.requires_grad for p in model.parameters())


def test_norm_eval_false_keeps_bn_training():
    model = RLAResNet(depth=18, norm_eval=False)
    model.train()
    assert all(m.training for m in model.modules()
               if isinstance(m, _BatchNorm))


# Depth 50 also covers the fused update/conv1 path inside checkpoints.
@pytest.mark.parametrize('depth,concat_hidden', [(18, True), (18, False),
                                                 (50, True)])
def test_with_cp_gives_equal_outputs_and_grads(depth, concat_hidden):
    kwargs = dict(
        depth=depth,
        concat_hidden=concat_hidden,
        out_indices=(0, 1, 2, 3) if not concat_hidden else (3, ),
        frozen_stages=1)
    torch.manual_seed(0)
    plain = RLAResNet(**kwargs)
    plain.init_weights()
    assert_with_cp_matches(plain, RLAResNet(with_cp=True, **kwargs),
                           torch.rand(2, 3, 48, 48))


def test_bf16_autocast_forward():
    model = RLAResNet(
        depth=50, out_indices=(0, 1, 2, 3), concat_hidden=False).eval()
    cls_model = RLAResNet(depth=18).eval()
    x = torch.rand(1, 3, 65, 63)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
        (cls_out, ) = cls_model(x)
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    assert all(torch.isfinite(o.float()).all() for o in outs)
    assert cls_out.shape == (1, 512 + 32, 3, 2)
    with torch.no_grad():
        (ref, ) = cls_model(x)
    torch.testing.assert_close(cls_out.float(), ref, atol=0.1, rtol=0.05)


def test_hidden_state_follows_input_dtype():
    model = RLAResNet(depth=18).double().eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 32, 32, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_channels_last_matches_contiguous():
    model = RLAResNet(depth=18).eval()
    x = torch.rand(2, 3, 67, 64)
    with torch.no_grad():
        (ref, ) = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        (out, ) = model_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('norm_cfg', [
    dict(type='GN', num_groups=16, requires_grad=True),
    dict(type='SyncBN', requires_grad=True),
])
def test_other_norms(norm_cfg):
    model = RLAResNet(depth=18, norm_cfg=norm_cfg).eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 544, 1, 1)
    expected = nn.GroupNorm if norm_cfg['type'] == 'GN' else \
        nn.SyncBatchNorm
    norms = [
        m for m in model.modules() if isinstance(m, (nn.GroupNorm, _BatchNorm))
    ]
    # stem, 3 per block (8 blocks), 3 downsamples, final rla norm
    assert len(norms) == 1 + 3 * 8 + 3 + 1
    assert all(isinstance(m, expected) for m in norms)


def test_resnext_se_variant_builds_and_runs():
    model = RLAResNet(depth=50, groups=32, base_width=4, se_ratio=16).eval()
    assert model.layer1[0].conv2.groups == 32
    assert model.layer1[0].conv2.in_channels == 128
    assert model.layer1[0].se.conv1.conv.bias is None
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 2080, 2, 2)


def test_zero_init_residual():
    model = RLAResNet(depth=50)
    model.init_weights()
    assert all(torch.all(b.bn3.weight == 0) for b in model.layer2)
    model = RLAResNet(depth=50, zero_init_residual=False)
    model.init_weights()
    assert torch.all(model.layer2[0].bn3.weight == 1)


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=42), r'Invalid depth 42.*\[18, 34, 50, 101, 152\]'),
    (dict(depth=50, rla_channel=0), 'rla_channel must be a positive'),
    (dict(depth=50, rla_channel=-3), 'rla_channel must be a positive'),
    (dict(depth=50, eca_kernel_sizes=(5, 5, 5)),
     r'one kernel size per stage \(4\).*\(5, 5, 5, 7\)'),
    (dict(depth=50, eca_kernel_sizes=(5, 5, 4, 7)), 'positive odd'),
    (dict(depth=50,
          out_indices=(4, )), r'out of range: use 0\.\.3 for 4 stages'),
    (dict(depth=50, out_indices=()), 'non-empty'),
    (dict(depth=50, frozen_stages=5), r'frozen_stages must be .* -1\.\.4'),
    (dict(depth=50, frozen_stages=-2), 'frozen_stages must be'),
    (dict(depth=50, se_ratio=0), 'se_ratio must be a positive integer'),
    (dict(depth=50, se_ratio=2.5), 'se_ratio must be a positive integer'),
    (dict(depth=50, out_indices='0'), 'sequence'),
    (dict(depth=50, rla_source='input'), 'rla_source must be one of'),
    (dict(depth=18, groups=32), 'use depth 50, 101 or 152'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RLAResNet(**kwargs)


@pytest.mark.parametrize('x', [
    torch.rand(3, 64, 64),
    torch.rand(1, 1, 64, 64),
])
def test_bad_input_raises_clear_error(x):
    model = RLAResNet(depth=18)
    with pytest.raises(ValueError, match=r'expects images of shape \(N, 3'):
        model(x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_forward_and_fp16_autocast():
    model = RLAResNet(
        depth=50, out_indices=(0, 1, 2, 3), concat_hidden=False).cuda()
    x = torch.rand(2, 3, 97, 131, device='cuda')
    with torch.autocast('cuda', dtype=torch.float16):
        outs = model(x)
    assert all(o.is_cuda and torch.isfinite(o).all() for o in outs)
    assert_all_params_have_grads(model, outs)


@pytest.mark.parametrize('kwargs', [
    dict(depth=50),
    dict(depth=18),
    dict(depth=50, eca_kernel_sizes=(5, 5, 5, 7)),
    dict(depth=50, deep_stem=True, avg_down=True),
    dict(depth=50, out_indices=(0, 1, 2, 3), concat_hidden=False),
    dict(
        depth=18,
        eca_kernel_sizes=(3, 3, 5, 5),
        rla_source='shortcut',
        share_rla_convs=False),
])
def test_deploy_equals_eval_in_float64(kwargs):
    model = randomize_(RLAResNet(**kwargs))
    deployed = assert_deploy_equals_eval(model, torch.rand(2, 3, 97, 64))
    # Every norm of the residual branches, the shortcuts and the stem is
    # folded into its conv; the RLA norms stay.
    left = {
        name.rsplit('.', 1)[-1]
        for name, m in deployed.named_modules() if isinstance(m, _BatchNorm)
    }
    assert left <= {'rla_norm', 'rla_out_norm'}, left


def test_deploy_keeps_weight_standardized_convs_and_their_norms():
    # A weight-standardized conv does not fold: deploy leaves it exact.
    model = randomize_(RLAResNet(depth=18, conv_cfg=dict(type='ConvWS')))
    deployed = assert_deploy_equals_eval(model, torch.rand(1, 3, 64, 64))
    block = deployed.layer1[0]
    assert isinstance(getattr(block, block.norm1_name), _BatchNorm)


# mmpretrain's ResNet accepts these; configs that swap it for an RLA-ResNet
# (C4 heads, RetinaNet-style necks, feature extraction) rely on them.
@pytest.mark.parametrize('out_indices', [(0, 1, 2), [1, 2], range(0, 3)])
def test_out_indices_before_the_last_stage_build_nothing_unused(
        out_indices, tmp_path):
    model = RLAResNet(50, out_indices=out_indices, concat_hidden=False)
    assert not hasattr(model, 'layer4') and model.num_stages == 3
    assert model.out_channels == tuple(
        (256, 512, 1024)[i] for i in out_indices)
    # The last built block's update feeds nothing and is not built either.
    assert model.layer3[-1].rla_norm is None
    outs = model(torch.rand(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == list(model.out_channels)
    assert_all_params_have_grads(model, outs)
    # A full checkpoint still loads through init_cfg (layer4 unexpected).
    full = RLAResNet(50, out_indices=(0, 1, 2, 3), concat_hidden=False)
    path = str(tmp_path / 'full.pth')
    torch.save({'state_dict': full.state_dict()}, path)
    part = RLAResNet(
        50,
        out_indices=out_indices,
        concat_hidden=False,
        init_cfg=dict(type='Pretrained', checkpoint=path))
    part.init_weights()
    torch.testing.assert_close(part.layer3[0].conv1.weight,
                               full.layer3[0].conv1.weight)


def test_classification_mode_appends_h_to_the_last_returned_stage():
    model = RLAResNet(18, out_indices=(1, 2), frozen_stages=4).eval()
    assert not hasattr(model, 'layer4')
    assert model.out_channels == (128, 256 + 32)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 8, 8), (1, 288, 4, 4)]
    model.train()  # frozen_stages beyond the built stages freezes them all
    assert not any(p.requires_grad for p in model.parameters())


def test_forward_reads_in_three_files():
    """docs/development.md lists the functions RLA-ResNet-50's forward
    calls, by file; a traced forward calls exactly those."""
    import os.path as osp
    import re
    import sys

    from tests.fixtures.console import REPO
    with open(osp.join(REPO, 'docs', 'development.md')) as f:
        page = f.read()
    section = page.split('## Reading a forward')[1].split('\n## ')[0]
    documented = {}
    for row in re.findall(r'^\| `(mmrla/[^`]+)` \| (.+) \|$', section, re.M):
        documented[row[0]] = set(re.findall(r'`([\w.]+)`', row[1]))
    model = RLAResNet(depth=50).eval()
    called = {}

    def profile(frame, event, arg):
        code = frame.f_code
        path = osp.relpath(code.co_filename, REPO)
        if event == 'call' and path.startswith('mmrla' + osp.sep) and \
                '<locals>' not in code.co_qualname:
            called.setdefault(path.replace(osp.sep, '/'),
                              set()).add(code.co_qualname)

    properties = {
        f'{cls.__name__}.{name}'
        for cls in type(model).__mro__ + type(model.layer1[0]).__mro__
        for name, value in vars(cls).items() if isinstance(value, property)
    }
    with torch.no_grad():
        sys.setprofile(profile)
        try:
            model(torch.rand(1, 3, 64, 64))
        finally:
            sys.setprofile(None)
    called = {
        path: names - properties
        for path, names in called.items() if names - properties
    }
    assert len(documented) == 3
    assert called == documented
