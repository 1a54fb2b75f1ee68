"""DenseNet-BC and its Shared-Lag / Shared-Ordinal simplifications (RLA-Net
section 3.2, Table 1): parameter counts, the equations restated plainly,
mmpretrain's DenseNet as the reference of the dense variant, and the
backbone contract."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones import DenseNet

from mmrla.models import LayerAggregationDenseNet
from mmrla.models.backbones.layer_aggregation_densenet import (
    AggregationDenseBlock, SharedAggregationConv)
from tests.fixtures.models import (assert_all_params_have_grads,
                                   assert_cuda_fp16_autocast,
                                   assert_dtype_autocast_and_channels_last,
                                   assert_frozen, assert_with_cp_matches,
                                   num_params)
from tests.fixtures.reference_models import randomize_

SHARED = ('shared_lag', 'shared_ordinal')
AGGREGATIONS = ('dense', ) + SHARED


def _classifier_params(aggregation):
    model = LayerAggregationDenseNet(depth=100, aggregation=aggregation)
    # The paper's counts include the CIFAR-10 classifier (342 -> 10).
    return num_params(model) + num_params(nn.Linear(342, 10))


def test_param_counts_match_table_1():
    dense = _classifier_params('dense')
    lag = _classifier_params('shared_lag')
    ordinal = _classifier_params('shared_ordinal')
    assert (dense, lag, ordinal) == (769_162, 587_722, 587_722)
    # Per block, the per-layer weights on x_1..x_15 (576 * (0 + ... + 15))
    # become 15 shared slots of 48 x 12 (576 each).
    assert dense - lag == 3 * 576 * (120 - 15) == 181_440
    # Table 1 prints 0.80M / 0.60M / 0.60M: Huang et al.'s "0.8M" for
    # DenseNet-BC 100, i.e. 10^6 at one decimal (2^20 would give 0.73M).
    # At that precision ours are equal, which is the documented tolerance:
    # within the rounding interval (+-0.05M), 3.9% and 2.0% under the
    # printed 0.80M and 0.60M.
    assert round(dense / 1e6, 1) == 0.8 and round(lag / 1e6, 1) == 0.6
    assert round(dense / 2**20, 2) == 0.73
    assert abs(dense - 0.80e6) < 0.05e6 and abs(lag - 0.60e6) < 0.05e6
    assert dense == pytest.approx(0.80e6, rel=0.04)
    assert lag == pytest.approx(0.60e6, rel=0.021)
    # "reduces the number of parameters by 25% (0.20M)"
    assert round((dense - lag) / 1e6, 1) == 0.2
    assert (dense - lag) / dense == pytest.approx(0.25, abs=0.015)


def test_structure_of_the_shared_variants():
    model = LayerAggregationDenseNet(aggregation='shared_lag')
    assert model.layers_per_block == 16
    assert [s.in_channels for s in model.stages] == [24, 108, 150]
    for stage in model.stages:
        conv = stage.shared_conv
        assert isinstance(conv, SharedAggregationConv)
        assert conv.weight.shape == (48, 15 * 12, 1, 1)
        assert conv.mode == 'lag'
        for t, layer in enumerate(stage.block, 1):
            # Per-layer: the norm of the whole input and the conv on x_0.
            assert layer.norm1.num_features == stage.in_channels + 12 * (t - 1)
            assert layer.conv1.weight.shape == (48, stage.in_channels, 1, 1)
            assert layer.conv2.weight.shape == (12, 48, 3, 3)
    assert model.out_channels == (342, )
    dense = LayerAggregationDenseNet()
    assert all(s.shared_conv is None for s in dense.stages)
    assert dense.stages[2].block[15].conv1.weight.shape == (48, 150 + 180, 1,
                                                            1)
    assert LayerAggregationDenseNet(
        aggregation='shared_ordinal').stages[0].shared_conv.mode == 'ordinal'


def _mmpretrain_densenet(depth, out_indices):
    n = (depth - 4) // 6
    ref = DenseNet(
        arch=dict(growth_rate=12, depths=[n] * 3, init_channels=24),
        out_indices=list(out_indices))
    # Huang et al.'s CIFAR stem: one 3x3 conv, no norm, no pooling.
    ref.stem = nn.Sequential(nn.Conv2d(3, 24, 3, padding=1, bias=False))
    return ref


@pytest.mark.parametrize('train', [False, True])
def test_dense_variant_is_mmpretrains_densenet(train):
    model = randomize_(
        LayerAggregationDenseNet(depth=22, out_indices=(0, 1, 2))).double()
    ref = _mmpretrain_densenet(22, (0, 1, 2)).double()
    state = {
        ('stem.0.weight' if k == 'stem.weight' else k): v
        for k, v in model.state_dict().items()
    }
    ref.load_state_dict(state, strict=True)
    model.train(train)
    ref.train(train)
    x = torch.rand(2, 3, 17, 17, dtype=torch.float64)
    outs, ref_outs = model(x), ref(x)
    assert len(outs) == len(ref_outs) == 3
    for a, b in zip(outs, ref_outs):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def _bn(x, norm, train):
    # Eval: the running statistics; train: the batch's (without updating).
    if train:
        return F.batch_norm(x, None, None, norm.weight, norm.bias, True, 0.,
                            norm.eps)
    return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight,
                        norm.bias, False, 0., norm.eps)


def _plain_block(block, x0, aggregation, train):
    """Eq. 9 / Eq. 10 written out: layer t applies, to each source x_s, an
    explicit matrix taken from the shared weights by lag (W_{t-s}) or by
    source (W_s), and its own matrix to x_0."""
    k = block.growth_rate
    c0 = x0.shape[1]
    shared = block.shared_conv.weight[:, :, 0, 0]
    xs = [x0]
    for t in range(1, len(block.block) + 1):
        layer = block.block[t - 1]
        z = torch.relu(_bn(torch.cat(xs, 1), layer.norm1, train))
        sources = [z[:, :c0]] + [
            z[:, c0 + (s - 1) * k:c0 + s * k] for s in range(1, t)
        ]
        matrices = [layer.conv1.weight[:, :, 0, 0]]
        for s in range(1, t):
            j = t - s if aggregation == 'shared_lag' else s
            matrices.append(shared[:, (j - 1) * k:j * k])
        y = sum(
            torch.einsum('oc,nchw->nohw', w, x_s)
            for w, x_s in zip(matrices, sources))
        y = torch.relu(_bn(y, layer.norm2, train))
        xs.append(F.conv2d(y, layer.conv2.weight, padding=1))
    return torch.cat(xs, 1)


@pytest.mark.parametrize('aggregation', SHARED)
@pytest.mark.parametrize('train', [False, True])
def test_shared_variants_follow_the_equations(aggregation, train):
    block = randomize_(
        AggregationDenseBlock(
            5, 7, growth_rate=3, bn_size=4,
            aggregation=aggregation)).double().train(train)
    x0 = torch.randn(2, 7, 6, 5, dtype=torch.float64)
    torch.testing.assert_close(
        block(x0),
        _plain_block(block, x0, aggregation, train),
        atol=1e-10,
        rtol=1e-10)


def test_lag_and_ordinal_differ_only_by_the_order():
    lag = randomize_(
        AggregationDenseBlock(4, 5, 2, 2, aggregation='shared_lag'))
    ordinal = AggregationDenseBlock(4, 5, 2, 2, aggregation='shared_ordinal')
    ordinal.load_state_dict(lag.state_dict())
    lag.eval()
    ordinal.eval()
    x = torch.randn(1, 5, 4, 4)
    # Layers 1 and 2 see at most x_1, where lag 1 and source 1 coincide.
    torch.testing.assert_close(lag(x)[:, :9], ordinal(x)[:, :9])
    assert not torch.allclose(lag(x)[:, 9:], ordinal(x)[:, 9:])


@pytest.mark.parametrize('mode', ['lag', 'ordinal'])
def test_shared_conv_over_the_full_storage(mode):
    """Appendix A.2's Figure 5: the shared conv over all slots, the outputs
    ordered most recent first (lag, the conveyor belt) or by source index
    (ordinal), zeros as placeholders, equals the sliced weights."""
    conv = SharedAggregationConv(4, growth_rate=3, out_channels=6, mode=mode)
    conv.double()
    xs = [torch.randn(2, 3, 4, 4, dtype=torch.float64) for _ in range(4)]
    for t in range(1, 6):
        previous = xs[:t - 1]  # x_1 .. x_{t-1}
        ordered = previous[::-1] if mode == 'lag' else previous
        zeros = [torch.zeros_like(xs[0])] * (4 - len(previous))
        storage = torch.cat(ordered + zeros, 1)
        expected = F.conv2d(torch.cat(previous, 1),
                            conv.layer_weight(t)) if previous else torch.zeros(
                                2, 6, 4, 4, dtype=torch.float64)
        torch.testing.assert_close(conv(storage), expected)


def test_weight_summaries():
    model = LayerAggregationDenseNet(depth=16, aggregation='shared_lag')
    randomize_(model)
    norms = model.shared_weight_norms()
    assert len(norms) == 3 and all(v.shape == (1, ) for v in norms)
    slot = model.stages[1].shared_conv.weight
    assert norms[1][0].item() == pytest.approx(slot.abs().mean().item())
    l2 = model.shared_weight_norms('l2')
    assert l2[2][0].item() == pytest.approx(
        model.stages[2].shared_conv.weight.norm().item())
    # DenseNet's Figure 5 table: rows t, columns s; lag 1 at (t=2, s=1).
    table = model.source_weight_norms()[1]
    assert table.shape == (2, 2) and math.isnan(table[0, 1])
    assert table[1, 1].item() == pytest.approx(norms[1][0].item())
    first = model.stages[1].block[1].conv1.weight
    assert table[1, 0].item() == pytest.approx(first.abs().mean().item())
    big = LayerAggregationDenseNet(depth=28, aggregation='shared_ordinal')
    assert [len(v) for v in big.shared_weight_norms()] == [3, 3, 3]
    with pytest.raises(ValueError, match='no shared 1x1 convs'):
        LayerAggregationDenseNet(depth=16).shared_weight_norms()
    with pytest.raises(ValueError, match='norm must be one of'):
        model.shared_weight_norms('max')


def _side(size, pools):
    for _ in range(pools):
        size //= 2
    return size


@pytest.mark.parametrize('aggregation', AGGREGATIONS)
@pytest.mark.parametrize('size', [8, 9, 17, 32, 47, 64])
def test_any_input_size(aggregation, size):
    model = LayerAggregationDenseNet(
        depth=16, aggregation=aggregation, out_indices=(0, 1, 2)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, size, size + 1))
    # depth 16: 2 layers a block, 24 -> 48 -> 24 -> 48 -> 24 -> 48 channels.
    assert model.out_channels == (24, 24, 48)
    assert [tuple(o.shape)
            for o in outs] == [(1, c, _side(size, p), _side(size + 1, p))
                               for c, p in zip((24, 24, 48), (1, 2, 2))]


@pytest.mark.parametrize('aggregation', AGGREGATIONS)
@pytest.mark.parametrize('out_indices', [(2, ), (0, ), (0, 1, 2), (1, )])
def test_every_parameter_gets_a_gradient(aggregation, out_indices):
    model = LayerAggregationDenseNet(
        depth=22, aggregation=aggregation, out_indices=out_indices)
    model.init_weights()
    assert len(model.stages) == max(out_indices) + 1
    assert_all_params_have_grads(model.train(),
                                 model(torch.rand(2, 3, 12, 12)))


def test_full_model_gradients():
    model = LayerAggregationDenseNet(aggregation='shared_lag')
    model.init_weights()
    assert_all_params_have_grads(model.train(), model(torch.rand(2, 3, 8, 8)))


def test_init_follows_huang_et_al():
    torch.manual_seed(0)
    model = LayerAggregationDenseNet(aggregation='shared_ordinal')
    model.init_weights()
    # He normal, fan-out: std sqrt(2 / 48) for every 1x1 conv of 48 outputs,
    # the shared one included.
    for w in (model.stages[0].shared_conv.weight,
              model.stages[0].block[5].conv1.weight):
        assert w.std().item() == pytest.approx(math.sqrt(2 / 48), rel=0.1)
    norm = model.stages[1].block[3].norm1
    assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    assert torch.equal(norm.bias, torch.zeros_like(norm.bias))


@pytest.mark.parametrize('aggregation', AGGREGATIONS)
def test_with_cp_gives_equal_outputs_and_grads(aggregation):
    torch.manual_seed(0)
    plain = LayerAggregationDenseNet(
        depth=22, aggregation=aggregation, frozen_stages=1)
    plain.init_weights()
    ckpt = LayerAggregationDenseNet(
        depth=22, aggregation=aggregation, frozen_stages=1, with_cp=True)
    assert_with_cp_matches(plain, ckpt, torch.rand(2, 3, 16, 16))


def test_frozen_stages_and_norm_eval():
    model = LayerAggregationDenseNet(
        depth=16, aggregation='shared_lag', frozen_stages=2, norm_eval=True)
    model.train()
    assert_frozen(
        model,
        frozen=[model.stem, *model.stages[:2], *model.transitions[:2]],
        trainable=[model.stages[2], model.transitions[2]],
        norm_eval=True)
    assert not model.stages[1].shared_conv.weight.requires_grad
    before = model.stages[2].block[0].norm1.running_mean.clone()
    outs = model(torch.rand(2, 3, 16, 16))
    assert torch.equal(before, model.stages[2].block[0].norm1.running_mean)
    assert_all_params_have_grads(model, outs)
    stem_only = LayerAggregationDenseNet(depth=16, frozen_stages=0).train()
    assert_frozen(stem_only, [stem_only.stem], list(stem_only.stages))


@pytest.mark.parametrize('aggregation', AGGREGATIONS)
def test_dtype_autocast_and_channels_last(aggregation):
    model = LayerAggregationDenseNet(
        depth=22, aggregation=aggregation, out_indices=(0, 2))
    model.init_weights()
    assert_dtype_autocast_and_channels_last(model, torch.rand(2, 3, 20, 19))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_forward_and_fp16_autocast():
    assert_cuda_fp16_autocast(
        LayerAggregationDenseNet(
            depth=22, aggregation='shared_lag', out_indices=(0, 1, 2)),
        torch.rand(2, 3, 33, 31))


def test_other_norms():
    model = LayerAggregationDenseNet(
        depth=16,
        aggregation='shared_ordinal',
        norm_cfg=dict(type='GN', num_groups=4),
        act_cfg=dict(type='SiLU')).eval()
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 16, 16))
    assert out.shape == (1, 48, 4, 4)
    assert isinstance(model.stages[0].block[0].act, nn.SiLU)


@pytest.mark.parametrize('kwargs,match', [
    (dict(depth=99), r'depth must be 6n \+ 4'),
    (dict(depth=4), r'depth must be 6n \+ 4'),
    (dict(depth=10, aggregation='shared_lag'), 'at least 2 layers'),
    (dict(aggregation='lag'), 'aggregation must be one of'),
    (dict(growth_rate=0), 'growth_rate must be a positive integer'),
    (dict(compression_factor=0), r'compression_factor must be in \(0, 1\]'),
    (dict(out_indices=(3, )), r'out of range: use 0\.\.2'),
    (dict(frozen_stages=4), r'frozen_stages must be an integer in -1\.\.3'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LayerAggregationDenseNet(**kwargs)


def test_bad_input_is_explained():
    model = LayerAggregationDenseNet(depth=16)
    with pytest.raises(ValueError, match=r'expects images of shape \(N, 3'):
        model(torch.rand(3, 32, 32))
