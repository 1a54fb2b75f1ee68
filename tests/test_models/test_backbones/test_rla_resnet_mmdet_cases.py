"""mmdet's own ResNet test cases, restated for RLAResNet.

Each case of mmdet 3.3's ``tests/test_models/test_backbones/test_resnet.py``
asks the same of RLAResNet and its blocks. The blocks' first conv also reads
``h`` (32 more input channels) and they take ``(x, h, out_conv, shared)``;
bad arguments raise a ValueError with one clear line where mmdet asserts.
The backbone cases build in mmdet's registry scope, where RLAResNet takes
mmdet's defaults (four stage features, no ``h``, ``norm_eval=True``).
"""
import pytest
import torch
import torch.nn as nn
from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack
from mmengine.registry import init_default_scope
from torch.nn.modules import AvgPool2d, GroupNorm
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.models import RLABasicBlock, RLABottleneck, RLAResNet
from tests.fixtures.models import assert_all_params_have_grads

K = 32  # rla_channel
CONTEXT = dict(cfg=dict(type='ContextBlock', ratio=1. / 16))
GEN_ATTENTION = dict(
    cfg=dict(
        type='GeneralizedAttention',
        spatial_range=-1,
        num_heads=8,
        attention_type='0010',
        kv_stride=2))
NONLOCAL = dict(cfg=dict(type='NonLocal2d'))


@pytest.fixture
def mmdet_scope():
    init_default_scope('mmdet')


def _run_block(block, x, h=None):
    """Run ``block`` with freshly built stage convs; returns ``(out, h)``."""
    out_conv = nn.Conv2d(block.out_channels, K, 1, bias=False)
    shared = block.rla_cell.build_shared()
    return block(x, h, out_conv, shared)


def _plugin(base, position, **cfg):
    plugin = dict(base, position=position)
    plugin['cfg'] = dict(base['cfg'], **cfg)
    return plugin


def test_basic_block_refuses_dcn_and_plugins():
    with pytest.raises(ValueError, match='bottleneck'):
        RLABasicBlock(64, 64, K, dcn=dict(type='DCN', deform_groups=1))
    for plugin in (_plugin(CONTEXT,
                           'after_conv3'), _plugin(GEN_ATTENTION,
                                                   'after_conv2')):
        with pytest.raises(ValueError, match='bottleneck'):
            RLABasicBlock(64, 64, K, plugins=[plugin])


@pytest.mark.parametrize('with_cp', [False, True])
def test_basic_block_structure_and_forward(with_cp):
    block = RLABasicBlock(64, 64, K, with_cp=with_cp)
    assert block.with_cp == with_cp
    assert block.conv1.in_channels == 64 + K
    assert block.conv1.out_channels == 64
    assert block.conv1.kernel_size == (3, 3)
    assert block.conv2.in_channels == 64 and block.conv2.out_channels == 64
    assert block.conv2.kernel_size == (3, 3)
    out, h = _run_block(block, torch.randn(1, 64, 56, 56))
    assert out.shape == (1, 64, 56, 56) and h.shape == (1, K, 56, 56)


def test_bottleneck_refuses_bad_arguments():
    with pytest.raises(ValueError, match="'pytorch'.*'caffe'"):
        RLABottleneck(64, 64, K, style='tensorflow')
    with pytest.raises(ValueError, match='position'):
        RLABottleneck(64, 64, K, plugins=[_plugin(CONTEXT, 'after_conv4')])
    with pytest.raises(ValueError, match='postfix'):
        RLABottleneck(64, 64, K, plugins=[_plugin(CONTEXT, 'after_conv3')] * 2)
    with pytest.raises(ValueError, match='WrongPlugin'):
        RLABottleneck(
            64,
            64,
            K,
            plugins=[
                dict(cfg=dict(type='WrongPlugin'), position='after_conv3')
            ])
    dcn = dict(type='DCN', deform_groups=1, fallback_on_stride=False)
    with pytest.raises(ValueError, match='conv_cfg=None'):
        RLABottleneck(64, 64, K, dcn=dcn, conv_cfg=dict(type='Conv'))


def test_bottleneck_with_cp_and_forward():
    for with_cp in (False, True):
        block = RLABottleneck(64, 64, K, with_cp=with_cp)
        assert block.with_cp == with_cp
        out, _ = _run_block(block, torch.randn(1, 64, 56, 56))
        assert out.shape == (1, 64, 56, 56)


def test_bottleneck_style_places_the_stride():
    # mmdet's ResLayer gives a strided block its projection shortcut.
    def strided(style):
        downsample = nn.Conv2d(64, 64, 1, stride=2, bias=False)
        return RLABottleneck(
            64, 64, K, stride=2, style=style, downsample=downsample)

    block = strided('pytorch')
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    block = strided('caffe')
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    # Either way the block and h come out at half the resolution.
    out, h = _run_block(block, torch.randn(1, 64, 56, 56),
                        torch.randn(1, K, 56, 56))
    assert out.shape == (1, 64, 28, 28) and h.shape == (1, K, 28, 28)


@pytest.mark.parametrize('dcn_type,cls',
                         [('DCN', DeformConv2dPack),
                          ('DCNv2', ModulatedDeformConv2dPack)])
def test_bottleneck_dcn_replaces_conv2_only(dcn_type, cls):
    dcn = dict(type=dcn_type, deform_groups=1, fallback_on_stride=False)
    block = RLABottleneck(64, 64, K, dcn=dcn)
    assert isinstance(block.conv2, cls)
    assert not any(
        isinstance(m, cls)
        for name, m in block.named_modules() if name != 'conv2')
    out, h = _run_block(block, torch.randn(1, 64, 20, 20))
    assert out.shape == (1, 64, 20, 20) and h.shape == (1, K, 20, 20)
    # A strided block keeps a plain conv with fallback_on_stride.
    fallback = dict(dcn, fallback_on_stride=True)
    assert isinstance(RLABottleneck(64, 64, K, dcn=fallback).conv2, cls)
    strided = RLABottleneck(
        64,
        64,
        K,
        stride=2,
        dcn=fallback,
        downsample=nn.Conv2d(64, 64, 1, stride=2))
    assert type(strided.conv2) is nn.Conv2d


@pytest.mark.parametrize('dcn_type', ['DCN', 'DCNv2'])
def test_deformable_convs_start_with_zero_offsets(dcn_type):
    model = RLAResNet(
        50,
        base_channels=8,
        dcn=dict(type=dcn_type, deform_groups=1),
        stage_with_dcn=(False, True, True, True))
    model.init_weights()
    offsets = [
        b.conv2.conv_offset for b in _blocks(model)
        if b.conv2 is not None and hasattr(b.conv2, 'conv_offset')
    ]
    assert len(offsets) == 4 + 6 + 3
    assert not any(m.weight.any() or m.bias.any() for m in offsets)
    # The 3x3 weights themselves are Kaiming-initialized.
    assert model.layer2[0].conv2.weight.std() > 0


def test_bottleneck_plugins_at_each_position():
    x = torch.randn(1, 64, 56, 56)
    block = RLABottleneck(64, 64, K, plugins=[_plugin(CONTEXT, 'after_conv3')])
    assert block.context_block.in_channels == 64
    assert _run_block(block, x)[0].shape == (1, 64, 56, 56)

    block = RLABottleneck(
        64, 64, K, plugins=[_plugin(GEN_ATTENTION, 'after_conv2')])
    assert block.gen_attention_block.in_channels == 16
    assert _run_block(block, x)[0].shape == (1, 64, 56, 56)

    block = RLABottleneck(
        64,
        64,
        K,
        plugins=[
            _plugin(GEN_ATTENTION, 'after_conv2'),
            _plugin(NONLOCAL, 'after_conv2'),
            _plugin(CONTEXT, 'after_conv3')
        ])
    assert block.gen_attention_block.in_channels == 16
    assert block.nonlocal_block.in_channels == 16
    assert block.context_block.in_channels == 64
    assert _run_block(block, x)[0].shape == (1, 64, 56, 56)

    block = RLABottleneck(
        64,
        64,
        K,
        plugins=[
            _plugin(CONTEXT, 'after_conv2', postfix=1),
            _plugin(CONTEXT, 'after_conv3', postfix=2),
            _plugin(CONTEXT, 'after_conv3', postfix=3)
        ])
    assert block.context_block1.in_channels == 16
    assert block.context_block2.in_channels == 64
    assert block.context_block3.in_channels == 64
    assert _run_block(block, x)[0].shape == (1, 64, 56, 56)


def test_plugins_run_where_mmdet_puts_them():
    # A plugin that zeroes its input after conv3 leaves only the shortcut:
    # the block output is relu(x), and the update conv reads that.
    class Zero(nn.Module):

        def forward(self, x):
            return x * 0

    block = RLABottleneck(64, 64, K).eval()
    block.add_module('zero', Zero())
    block.after_conv3_plugin_names = ['zero']
    x = torch.randn(1, 64, 8, 8)
    with torch.no_grad():
        out, _ = _run_block(block, x)
    torch.testing.assert_close(out, x.relu())


def test_res_layer_shortcuts():
    model = RLAResNet(50, base_channels=16, out_indices=(0, 1))
    # Stage 1: no stride, 16 -> 64 channels: a 1x1 projection.
    assert model.layer1[0].downsample[0].out_channels == 64
    assert all(b.downsample is None for b in model.layer1[1:])
    # Stage 2: strided 1x1 projection.
    assert model.layer2[0].downsample[0].stride == (2, 2)
    assert model.layer2[0].downsample[0].out_channels == 128

    model = RLAResNet(50, base_channels=16, out_indices=(0, 1), avg_down=True)
    assert isinstance(model.layer1[0].downsample[0], nn.Conv2d)
    shortcut = model.layer2[0].downsample
    assert isinstance(shortcut[0], AvgPool2d)
    assert shortcut[1].stride == (1, 1) and shortcut[1].out_channels == 128
    assert all(b.downsample is None for b in model.layer2[1:])
    x = torch.randn(1, 3, 64, 64)
    assert [o.shape[1:] for o in model.eval()(x)] == [(64, 16, 16),
                                                      (128 + K, 8, 8)]


def test_stem_channels():
    model = RLAResNet(50)
    assert model.stem_channels == 64 and model.conv1.out_channels == 64
    assert model.norm1.num_features == 64

    # stem_channels follows base_channels unless given.
    model = RLAResNet(50, base_channels=3)
    assert model.stem_channels == 3 and model.conv1.out_channels == 3
    assert model.norm1.num_features == 3
    assert model.layer1[0].conv1.in_channels == 3 + K

    for base in (64, 2):
        model = RLAResNet(50, stem_channels=3, base_channels=base)
        assert model.stem_channels == 3 and model.conv1.out_channels == 3
        assert model.norm1.num_features == 3
        assert model.layer1[0].conv1.in_channels == 3 + K

    model = RLAResNet(50, stem_channels=6, deep_stem=True, avg_down=True)
    assert [(m.conv.out_channels, m.bn.num_features)
            for m in model.stem] == [(3, 3), (3, 3), (6, 6)]
    assert model.stem[0].conv.stride == (2, 2)
    assert model.layer1[0].conv1.in_channels == 6 + K


@pytest.mark.parametrize('kwargs,error', [
    (dict(depth=20), 'depth'),
    (dict(depth=50, num_stages=0), 'num_stages'),
    (dict(depth=50, num_stages=5), 'num_stages'),
    (dict(
        depth=50,
        dcn=dict(type='DCN', deform_groups=1),
        stage_with_dcn=(True, )), 'stage_with_dcn'),
    (dict(
        depth=50,
        plugins=[
            dict(_plugin(CONTEXT, 'after_conv3'), stages=(False, True, True))
        ]), 'stages'),
    (dict(depth=50, strides=(1, ), dilations=(1, 1), num_stages=3), 'strides'),
    (dict(depth=50, strides=(1, 2, 2), dilations=(1, 1),
          num_stages=3), 'dilations'),
    (dict(depth=50, style='tensorflow'), 'style'),
])
def test_backbone_refuses_bad_arguments(kwargs, error, mmdet_scope):
    with pytest.raises(ValueError, match=error):
        RLAResNet(**kwargs)


def test_pretrained_must_be_a_path(mmdet_scope):
    with pytest.raises(TypeError, match='pretrained'):
        RLAResNet(50, pretrained=0)
    with pytest.warns(UserWarning, match='deprecated'):
        model = RLAResNet(50, pretrained='checkpoints/r50.pth')
    assert model.init_cfg == dict(
        type='Pretrained', checkpoint='checkpoints/r50.pth')
    with pytest.raises(ValueError, match='both'):
        RLAResNet(
            50,
            pretrained='checkpoints/r50.pth',
            init_cfg=dict(type='Pretrained', checkpoint='x.pth'))


def test_norm_eval_and_frozen_stages(mmdet_scope):
    # mmdet's default: norm_eval=True.
    model = RLAResNet(50, base_channels=1).train()
    assert not any(m.training
                   for m in model.modules() if isinstance(m, _BatchNorm))

    model = RLAResNet(50, frozen_stages=1, base_channels=1).train()
    frozen = [model.conv1, model.norm1, model.layer1]
    for m in frozen:
        assert not any(p.requires_grad for p in m.parameters())
        assert not any(x.training
                       for x in m.modules() if isinstance(x, _BatchNorm))
    assert all(p.requires_grad for p in model.layer2.parameters())

    model = RLAResNet(
        50, frozen_stages=1, base_channels=2, deep_stem=True,
        avg_down=True).train()
    assert len(model.stem) == 3
    for m in (model.stem, model.layer1):
        assert not any(p.requires_grad for p in m.parameters())
        assert not any(x.training
                       for x in m.modules() if isinstance(x, _BatchNorm))


def _shapes(outs):
    return [tuple(o.shape) for o in outs]


def test_forward_shapes(mmdet_scope):
    x = torch.randn(1, 3, 32, 32)
    model = RLAResNet(18).train()
    assert _shapes(model(x)) == [(1, 64, 8, 8), (1, 128, 4, 4), (1, 256, 2, 2),
                                 (1, 512, 1, 1)]
    r50 = [(1, 4, 8, 8), (1, 8, 4, 4), (1, 16, 2, 2), (1, 32, 1, 1)]
    model = RLAResNet(50, base_channels=1).train()
    assert all(
        isinstance(m, _BatchNorm) for m in model.modules()
        if isinstance(m, (_BatchNorm, GroupNorm)))
    assert _shapes(model(x)) == r50
    model = RLAResNet(50, out_indices=(0, 1, 2), base_channels=1).train()
    assert _shapes(model(x)) == r50[:3]
    # ResNet-D.
    model = RLAResNet(
        50, base_channels=2, deep_stem=True, avg_down=True).train()
    assert _shapes(model(x)) == [(1, 8, 8, 8), (1, 16, 4, 4), (1, 32, 2, 2),
                                 (1, 64, 1, 1)]


def test_with_cp_in_every_block(mmdet_scope):
    for depth in (18, 50):
        model = RLAResNet(depth, with_cp=True, base_channels=1)
        blocks = [b for name in model.res_layers for b in getattr(model, name)]
        assert blocks and all(b.with_cp for b in blocks)
    assert _shapes(model.train()(torch.randn(1, 3, 32, 32))) == [(1, 4, 8, 8),
                                                                 (1, 8, 4, 4),
                                                                 (1, 16, 2, 2),
                                                                 (1, 32, 1, 1)]


def test_group_norm(mmdet_scope):
    model = RLAResNet(
        50,
        base_channels=4,
        norm_cfg=dict(type='GN', num_groups=2, requires_grad=True)).train()
    norms = [
        m for m in model.modules() if isinstance(m, (_BatchNorm, GroupNorm))
    ]
    assert norms and all(isinstance(m, GroupNorm) for m in norms)
    assert _shapes(model(torch.randn(1, 3, 32, 32))) == [(1, 16, 8, 8),
                                                         (1, 32, 4, 4),
                                                         (1, 64, 2, 2),
                                                         (1, 128, 1, 1)]


def _blocks(layer):
    return [m for m in layer.modules() if isinstance(m, RLABottleneck)]


def test_plugins_by_stage(mmdet_scope):
    plugins = [
        dict(
            _plugin(GEN_ATTENTION, 'after_conv2'),
            stages=(False, True, True, True)),
        _plugin(NONLOCAL, 'after_conv2'),
        dict(
            _plugin(CONTEXT, 'after_conv3'),
            stages=(False, True, True, False)),
    ]
    model = RLAResNet(50, plugins=plugins, base_channels=8)
    for i, (mid, out) in enumerate([(8, 32), (16, 64), (32, 128), (64, 256)]):
        for block in _blocks(getattr(model, f'layer{i + 1}')):
            assert block.nonlocal_block.in_channels == mid
            if i == 0:
                assert not hasattr(block, 'gen_attention_block')
            else:
                assert block.gen_attention_block.in_channels == mid
            if i in (1, 2):
                assert block.context_block.in_channels == out
            else:
                assert not hasattr(block, 'context_block')
    model.train()
    outs = model(torch.randn(1, 3, 32, 32))
    assert _shapes(outs) == [(1, 32, 8, 8), (1, 64, 4, 4), (1, 128, 2, 2),
                             (1, 256, 1, 1)]
    assert_all_params_have_grads(model, outs)

    stages = (False, True, True, False)
    plugins = [
        dict(_plugin(CONTEXT, 'after_conv3', postfix=1), stages=stages),
        dict(_plugin(CONTEXT, 'after_conv3', postfix=2), stages=stages)
    ]
    model = RLAResNet(50, plugins=plugins, base_channels=8)
    for i in range(4):
        for block in _blocks(getattr(model, f'layer{i + 1}')):
            assert not hasattr(block, 'context_block')
            if stages[i]:
                assert block.context_block1.in_channels == 32 * 2**i
                assert block.context_block2.in_channels == 32 * 2**i
            else:
                assert not hasattr(block, 'context_block1')
    assert _shapes(model.train()(torch.randn(1, 3, 32,
                                             32)))[-1] == (1, 256, 1, 1)


def test_plugins_and_dcn_leave_the_rla_path_alone(mmdet_scope):
    plain = RLAResNet(50, base_channels=8)
    model = RLAResNet(
        50,
        base_channels=8,
        dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True),
        plugins=[
            dict(
                _plugin(CONTEXT, 'after_conv3'),
                stages=(False, True, True, True))
        ])
    rla = ('rla_', 'conv1.', 'norm1.', 'bn1.')

    def rla_keys(m):
        return {
            k: tuple(v.shape)
            for k, v in m.state_dict().items()
            if any(part in k for part in rla)
        }

    assert rla_keys(model) == rla_keys(plain)
    assert isinstance(model.layer2[0].conv2, ModulatedDeformConv2dPack)
    assert type(model.layer1[0].conv2) is nn.Conv2d


def test_zero_init_residual(mmdet_scope):
    model = RLAResNet(50, zero_init_residual=True, base_channels=1)
    model.init_weights()
    for block in _blocks(model):
        assert not block.last_norm.weight.any()
        assert not block.last_norm.bias.any()
    basic = RLAResNet(18, zero_init_residual=True, base_channels=1)
    basic.init_weights()
    for name in basic.res_layers:
        for block in getattr(basic, name):
            assert not block.last_norm.weight.any()
    assert _shapes(model.train()(torch.randn(1, 3, 32, 32)))[0] == (1, 4, 8, 8)


def test_defaults_follow_the_building_library():
    # Outside mmdet's scope: classification, h appended, as in mmpretrain.
    model = RLAResNet(50, base_channels=1)
    assert model.out_indices == (3, ) and model.concat_hidden
    assert not model.norm_eval
    assert model.out_channels == (32 + K, )
    init_default_scope('mmdet')
    model = RLAResNet(50, base_channels=1)
    assert model.out_indices == (0, 1, 2, 3) and not model.concat_hidden
    assert model.norm_eval
    assert model.out_channels == (4, 8, 16, 32)
    # Given arguments win over the defaults.
    model = RLAResNet(
        50,
        base_channels=1,
        out_indices=(3, ),
        concat_hidden=True,
        norm_eval=False)
    assert model.out_channels == (32 + K, ) and not model.norm_eval


def test_mmdet_options_trace_as_one_graph():
    # ResNet-D stem and shortcuts, caffe style, a dilated stage and a plugin:
    # torch.compile traces the whole backbone, no graph break.
    model = RLAResNet(
        50,
        base_channels=8,
        num_stages=3,
        strides=(1, 2, 1),
        dilations=(1, 1, 2),
        out_indices=(0, 1, 2),
        concat_hidden=False,
        style='caffe',
        deep_stem=True,
        avg_down=True,
        plugins=[
            dict(_plugin(CONTEXT, 'after_conv3'), stages=(False, True, True))
        ])
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model.train())(torch.rand(2, 3, 32, 32))
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)
