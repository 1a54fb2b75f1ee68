"""LayerAttentionResNet: the recurrent layer attention of the seed
``recurrent-layer-attention-paper.txt``: shapes, the paper's parameter
counts, Eqs. 2-6, and the backbone contract."""
import math

import pytest
import torch
import torch.nn as nn
from mmpretrain.models import ResNet
from torch.nn.modules.batchnorm import _BatchNorm

from mmrla.models import LABasicBlock, LABottleneck, LayerAttentionResNet
from mmrla.models.backbones.layer_attention_resnet import (auto_context_size,
                                                           resize_context)

CIFAR = (20, 32, 44, 56, 110)
# Table 2 (CIFAR): depth -> (ResNet params in M, SE added %, RLA added %).
TABLE2 = {
    20: (0.275, 0.86, 0.30),
    32: (0.471, 0.84, 0.20),
    44: (0.667, 0.83, 0.17),
    56: (0.858, 1.51, 0.14),
    110: (1.735, 1.15, 0.11),
}
# Table 1 (ResNet-56): variant -> (options, params in M); backbone 0.862M.
TABLE1 = {
    'RLA': (dict(), 0.864),
    'SE': (dict(layer_attention=False, se_ratio=16), 0.870),
    'IA+RLA': (dict(se_ratio=16), 0.870),
    'RLA-vector': (dict(vector=True), 0.876),
    'GMP': (dict(context='gmp'), 0.864),
    'GAP+MLP': (dict(context='gap_mlp'), 0.871),
    'GMP+MLP': (dict(context='gmp_mlp'), 0.871),
}
TABLE1_BACKBONE = 0.862
# ImageNet (Table 2, top right; in units of 10M there, here in M):
# depth -> (ResNet, RLA, RLA added %).
IMAGENET = {
    18: (11.69, 11.90, 1.83),
    50: (25.55, 28.97, 13.35),
    101: (44.54, 48.24, 8.29)
}


def _count(module, num_classes, in_channels):
    """Parameters of ``module`` plus a linear classifier on top."""
    return sum(p.numel() for p in module.parameters()) + \
        in_channels * num_classes + num_classes


def _cifar(depth, num_classes=10, **kwargs):
    return _count(LayerAttentionResNet(depth, **kwargs), num_classes, 64)


def _trunc(count, digits=2):
    """``count`` in M, truncated to ``digits`` decimals."""
    return math.floor(count / 10**(6 - digits)) / 10**digits


@pytest.mark.parametrize('depth', CIFAR)
def test_cifar_param_counts_match_table2(depth):
    base = _cifar(depth, layer_attention=False)
    la = _cifar(depth) - base
    se = _cifar(depth, layer_attention=False, se_ratio=16) - base
    paper_base, paper_se, paper_la = TABLE2[depth]
    # The paper's bases are not those of any one architecture: every extra
    # block per stage adds exactly 97,216 parameters (16, 32 and 64-channel
    # basic blocks), yet its ResNet-32 -> 44 -> 56 steps are 0.196M and
    # 0.191M. Ours (1x1-conv shortcuts) are within 1% of every base
    # (ResNet-20: 272,474 vs 0.275M; zero-padding shortcuts would be 1.9%
    # off).
    assert base == pytest.approx(paper_base * 1e6, rel=0.01)
    # Added parameters in % of the paper's base: within one unit of the
    # printed digit (ResNet-32: 983 = 0.209% vs 0.20%; ResNet-56: 1283 =
    # 0.150% vs 0.14%; no constant + per-block count fits all five).
    assert la == 608 + 25 * (depth - 2) // 2  # LSTM + one head per block
    assert 100 * la / (paper_base * 1e6) == pytest.approx(paper_la, abs=0.01)
    if depth <= 44:
        assert 100 * se / (paper_base * 1e6) == pytest.approx(
            paper_se, abs=0.01)
    else:
        # Contradiction in the paper: SE-56's 1.51% (0.871M - 0.858M) is
        # twice what SE ratio 16 adds (7119 = 0.83%), which is what SE-20,
        # -32, -44 report (0.86%, 0.84%, 0.83%) and what Table 1 reports for
        # the same SE-56 (0.870M - 0.862M = 0.008M).
        assert 100 * se / (paper_base * 1e6) == pytest.approx(0.83, abs=0.01)


@pytest.mark.parametrize('variant', sorted(TABLE1))
def test_resnet56_variants_match_table1(variant):
    # Table 1's backbone (0.862M) is ResNet-56 with a CIFAR-100 classifier
    # (861,620). The variants' increments, each the difference of two
    # figures rounded to 0.001M, are compared within +-0.001M.
    base = _cifar(56, 100, layer_attention=False)
    assert round(base / 1e6, 3) == TABLE1_BACKBONE
    options, paper = TABLE1[variant]
    added = _cifar(56, 100, **options) - base
    assert added == pytest.approx((paper - TABLE1_BACKBONE) * 1e6, abs=1000)
    assert added == {
        'RLA': 1283,
        'GMP': 1283,
        'SE': 7119,
        'IA+RLA': 7119 + 1283,
        'GAP+MLP': 7119 + 1283,  # the context MLP is SE-sized
        'GMP+MLP': 7119 + 1283,
        'RLA-vector': 8448 + 9 * (114 + 162 + 258),  # M=32 cell + heads
    }[variant]


@pytest.mark.parametrize('depth', sorted(IMAGENET))
def test_imagenet_param_counts_match_table2(depth):
    paper_base, paper_la, paper_pct = IMAGENET[depth]
    out = 512 if depth == 18 else 2048
    base = _count(ResNet(depth), 1000, out)
    la = _count(LayerAttentionResNet(depth), 1000, out)
    # The paper's ImageNet figures (x10M there) are rounded for ResNet-18
    # (11,689,512 -> 1.169) but truncated for ResNet-50/101 (25,557,032 ->
    # 2.555, 44,549,160 -> 4.454): ours are within one unit of the last
    # digit; the layer-attention counts give the paper's figure both ways.
    assert base / 1e6 == pytest.approx(paper_base, abs=0.01)
    assert _trunc(la) == round(la / 1e6, 2) == paper_la
    assert round(100 * (la - base) / base, 2) == paper_pct
    assert la == {18: 11_903_792, 50: 28_970_040, 101: 48_241_801}[depth]


def test_imagenet_appendix_hyper_params_contradict_the_counts():
    # Appendix C's r = 8 for RLA-50 gives 29.23M, not Table 2's 28.97M.
    r8 = _count(LayerAttentionResNet(50, ratio=8), 1000, 2048)
    assert _trunc(r8) == 29.23
    # M = 512 for RLA-18 needs 4*512*(N+512) > 1.5M LSTM weights alone,
    # far above Table 2's +0.21M.
    m512 = _count(LayerAttentionResNet(18, hidden_size=512), 1000, 512)
    assert m512 - 11_689_512 > 1_500_000


def test_default_hyper_params():
    m = LayerAttentionResNet(56)
    assert (m.hidden_size, m.ratio, m.context_size) == (4, 1, 32)
    assert isinstance(m.lstm, nn.LSTMCell)
    assert (m.lstm.input_size, m.lstm.hidden_size) == (32, 4)
    m = LayerAttentionResNet(56, vector=True)
    assert (m.hidden_size, m.ratio) == (32, 16)
    assert LayerAttentionResNet(18).context_size == 256
    assert LayerAttentionResNet(50).context_size == 1024
    assert LayerAttentionResNet(20, layer_attention=False).lstm is None


def test_auto_context_size_and_resize():
    assert auto_context_size([16, 32, 64]) == 32
    assert auto_context_size([64, 128, 256, 512]) == 256  # tie: the larger
    assert auto_context_size([256] * 3 + [512] * 4 + [1024] * 23 +
                             [2048] * 3) == 1024
    x = torch.arange(8.).view(1, 8)
    assert resize_context(x, 4).tolist() == [[0.5, 2.5, 4.5, 6.5]]
    assert resize_context(x,
                          16).tolist() == [[float(i // 2) for i in range(16)]]
    assert resize_context(x, 8) is x
    lin = resize_context(torch.tensor([[0., 2.]]), 4, 'linear')
    assert lin.tolist() == [[0.0, 0.5, 1.5, 2.0]]


@pytest.mark.parametrize('depth,size,shapes', [
    (20, (32, 32), [(2, 64, 8, 8)]),
    (20, (37, 45), [(2, 64, 10, 12)]),
    (20, (1, 3), [(2, 64, 1, 1)]),
    (18, (64, 64), [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4),
                    (2, 512, 2, 2)]),
    (50, (33, 47), [(2, 256, 9, 12), (2, 512, 5, 6), (2, 1024, 3, 3),
                    (2, 2048, 2, 2)]),
])
def test_output_shapes(depth, size, shapes):
    out_indices = (2, ) if depth in CIFAR else (0, 1, 2, 3)
    model = LayerAttentionResNet(depth, out_indices=out_indices).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, *size))
    assert [tuple(o.shape) for o in outs] == shapes


def test_cifar_out_indices_and_form():
    model = LayerAttentionResNet(32, out_indices=(0, 1, -1))
    outs = model(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32), (2, 32, 16, 16),
                                              (2, 64, 8, 8)]
    assert model.conv1.kernel_size == (3, 3)
    assert isinstance(model.maxpool, nn.Identity)
    assert [len(getattr(model, n)) for n in model.res_layers] == [5, 5, 5]
    assert all(isinstance(b, LABasicBlock) for b in model.blocks)
    assert all(
        isinstance(b, LABottleneck) for b in LayerAttentionResNet(50).blocks)


def _record_heads(model):
    """Hooks recording each head's input features and attention."""
    records = []
    handles = [
        b.layer_attention.register_forward_hook(
            lambda m, args, out: records.append(
                (args[0].detach(), out.detach()))) for b in model.blocks
    ]
    return records, handles


@pytest.mark.parametrize('options', [
    dict(),
    dict(context='gmp_mlp'),
    dict(vector=True),
    dict(se_ratio=16),
    dict(context='gap_mlp', context_resize='linear'),
    dict(context_resize='fc'),
    dict(attention_position='output'),
])
def test_attention_follows_eqs_2_to_4(options):
    torch.manual_seed(0)
    model = LayerAttentionResNet(20, **options).eval()
    records, _ = _record_heads(model)
    # Images of different contrast, so that their contexts differ.
    x = torch.randn(3, 3, 32, 32) * torch.tensor([0.2, 1., 4.]).view(
        3, 1, 1, 1)
    with torch.no_grad():
        model(x)
    assert len(records) == 9
    # Recompute the recurrence by hand: zero state, one LSTM step per block
    # on the block's context, then the block's own Eq. 4 head.
    state = (torch.zeros(3, 4 if not options.get('vector') else 32), ) * 2
    for block, (feat, alpha) in zip(model.blocks, records):
        head = block.layer_attention
        context = head.context(feat)
        assert context.shape == (3, 32)
        state = model.lstm(context, state)
        expected = head.fc(state[0])
        channels = block.out_channels if options.get('vector') else 1
        assert alpha.shape == (3, channels, 1, 1)
        torch.testing.assert_close(alpha.flatten(1), expected)
        assert ((alpha >= 0) & (alpha <= 1)).all()
    # The attention differs between blocks and, for some, between images
    # (RLA-vector's 2-unit heads may all be dead at init: constant output).
    alphas = torch.stack([a.flatten(1).mean(1) for _, a in records])
    assert alphas.std(0).min() > 0
    assert options.get('vector') or alphas.std(1).max() > 1e-4


def _force(block, value):
    """Make the block's attention exactly 0 or 1 (sigmoid of -/+1e4)."""
    last = block.layer_attention.fc[-2]
    nn.init.zeros_(last.weight)
    nn.init.constant_(last.bias, 1e4 if value else -1e4)


@pytest.mark.parametrize('options', [
    dict(),
    dict(vector=True),
    dict(se_ratio=16),
    dict(attention_position='output')
])
@pytest.mark.parametrize('block_index', [0, 3])  # plain, downsampling
def test_attention_scales_the_block(options, block_index):
    torch.manual_seed(0)
    model = LayerAttentionResNet(20, **options).eval()
    block = model.blocks[block_index]
    x = torch.randn(2, block.in_channels, 16, 16)
    cell = nn.LSTMCell(model.context_size, model.hidden_size)

    def step(context):
        return cell(context)[0]

    with torch.no_grad():
        identity = x if block.downsample is None else block.downsample(x)
        branch = block._residual(x)
        if block.se is not None:
            branch = block.se(branch)
        full = torch.relu(branch + identity)
        _force(block, 0)
        off = block(x, step)
        _force(block, 1)
        on = block(x, step)
    assert not torch.allclose(full, torch.relu(identity))
    torch.testing.assert_close(on, full)
    if options.get('attention_position') == 'output':
        assert torch.count_nonzero(off) == 0
    else:
        # The residual branch is switched off: only the shortcut is left.
        torch.testing.assert_close(off, torch.relu(identity))


def test_block_without_step_is_explained():
    model = LayerAttentionResNet(20)
    with pytest.raises(ValueError, match='needs the backbone'):
        model.blocks[0](torch.rand(1, 16, 8, 8))


@pytest.mark.parametrize('kwargs,match', [
    (dict(context='avg'), 'context must be one of'),
    (dict(context_resize='nearest'), 'context_resize must be one of'),
    (dict(ratio=3), 'must divide the LSTM hidden size'),
    (dict(attention_position='input'), 'attention_position must be'),
])
def test_bad_options_are_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LayerAttentionResNet(20, **kwargs)


def test_bad_depth_is_explained():
    with pytest.raises(KeyError, match='use one of'):
        LayerAttentionResNet(34)


@pytest.mark.parametrize('options', [
    dict(),
    dict(context='gmp_mlp', context_resize='fc'),
    dict(vector=True, se_ratio=16),
    dict(attention_position='output'),
    dict(depth=50, stem_channels=16, base_channels=8)
])
def test_every_parameter_gets_a_gradient(options):
    options = dict(dict(depth=20), **options)
    torch.manual_seed(0)
    model = LayerAttentionResNet(**options)
    model.init_weights()
    out = model(torch.rand(4, 3, 32, 32))[-1]
    out.pow(2).mean().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    if len(options) == 1:
        # A head's or context MLP's ReLU may be dead for a whole batch at
        # init (RLA-vector's heads and the 16-channel MLPs have 1-2 hidden
        # units); the default heads (4 units) all get non-zero gradients.
        assert all(p.grad.abs().sum() > 0 for p in model.parameters())


def test_frozen_stages_and_norm_eval():
    model = LayerAttentionResNet(20, frozen_stages=1, norm_eval=True)
    model.train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert 'conv1.weight' in frozen
    assert 'layer1.0.layer_attention.fc.0.weight' in frozen
    assert not any(n.startswith(('layer2', 'layer3', 'lstm')) for n in frozen)
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    assert model.layer2.training
    # The shared cell serves every stage; it freezes with the last one.
    model = LayerAttentionResNet(20, frozen_stages=3)
    assert not any(p.requires_grad for p in model.parameters())


def test_with_cp_gives_the_same_outputs_and_grads():
    torch.manual_seed(0)
    ref = LayerAttentionResNet(20, se_ratio=16)
    cp_model = LayerAttentionResNet(20, se_ratio=16, with_cp=True)
    cp_model.load_state_dict(ref.state_dict())
    x = torch.rand(2, 3, 32, 32)
    grads = []
    for model in (ref, cp_model):
        xi = x.clone().requires_grad_()
        out = model(xi)[0]
        out.sum().backward()
        grads.append((out.detach(), xi.grad, model.lstm.weight_ih.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_bf16_autocast_and_float64():
    model = LayerAttentionResNet(20, vector=True).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = model(x)[0]
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    model = model.double()
    with torch.no_grad():
        out64 = model(x.double())[0]
    assert out64.dtype == torch.float64
    torch.testing.assert_close(
        out.double(), out64, atol=0.25, rtol=0.1, check_dtype=False)


def test_baselines_have_no_attention():
    plain = LayerAttentionResNet(56, layer_attention=False)
    se = LayerAttentionResNet(56, layer_attention=False, se_ratio=16)
    assert all(b.layer_attention is None and b.se is None
               for b in plain.blocks)
    assert all(b.layer_attention is None and b.se is not None
               for b in se.blocks)
    assert se.blocks[-1].se.conv1.conv.out_channels == 64 // 16
    assert plain(torch.rand(1, 3, 32, 32))[0].shape == (1, 64, 8, 8)
