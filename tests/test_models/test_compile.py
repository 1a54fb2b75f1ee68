"""``torch.compile`` traces every backbone whole.

For every backbone registered by mmrla, and for the options that change the
code of a forward (the RLA cells, the ablation switches, classification and
detection modes, ECA/SE, gradient checkpointing, the deployed forms, the
CIFAR models, the DenseNet aggregations and the layer
attention variants), ``torch._dynamo.explain`` finds one graph and no graph
break, in training and in eval mode, and a short compiled training loop
recompiles nothing after its first step.

The backbones are built at small sizes (batch 2, 32x32 images). Where a
backbone repeats one block many times per stage (the CIFAR ResNets'
18 per stage, Xception's middle flow), the tests build two per stage:
tracing runs the same code for each repetition, so the graph count cannot
depend on it, while tracing time grows with it.
"""
from typing import Optional

import pytest
import torch
from torch._dynamo.testing import CompileCounter

import mmrla.models  # noqa: F401 (registers the backbones)
from mmrla.models.backbones import (ECAResNet, LayerAttentionResNet,
                                    RLAPreActResNet, RLAResNet, RLAXception)
from mmrla.registry import MODELS
from tests.fixtures.sizes import slow_where

INPUT = (2, 3, 32, 32)

# Constructor arguments of the registered backbones that cannot be built
# with none (the smallest depth of each code path); a backbone missing here
# is built with its defaults.
SMALL_ARGS = {
    'DualPathPreActResNet': dict(stage_blocks=(2, 2, 2)),
    'ECAResNet': dict(depth=50),
    'LayerAggregationDenseNet': dict(depth=22),
    'LayerAttentionResNet': dict(depth=20),
    'RLAPreActResNet': dict(depth=164),
    'RLAResNet': dict(depth=18),
    'ResNetExtraChannels': dict(depth=18),
}

DET = dict(out_indices=(0, 1, 2, 3), concat_hidden=False)
ECA = dict(eca_kernel_sizes=(5, 5, 5, 7))
POSTACT = dict(cell_cfg=dict(type='PostActRLACell'), readout='none')
LSTM = dict(cell_cfg=dict(type='ConvLSTMCell'), readout='none')
GRU = dict(cell_cfg=dict(type='ConvGRUCell'), readout='none')


def case(name: str, form: Optional[str] = None, **kwargs) -> tuple:
    """A backbone with ``kwargs``, as built (``form=None``) or deployed
    (``'deploy'``: ``switch_to_deploy()``, traced in eval mode only)."""
    return name, kwargs, form


OPTION_SETS = {
    # The cells of rla_cell.py (RLACell is every backbone's default).
    'RLAResNet-PostActRLACell':
    case('RLAResNet', depth=18, **POSTACT),
    'RLAResNet-ConvLSTMCell':
    case('RLAResNet', depth=18, **LSTM),
    'RLAResNet-ConvGRUCell-unshared':
    case('RLAResNet', depth=18, share_rla_convs=False, **GRU),
    # The ablation switches (paper, Figure 4 and Table 11).
    'RLAResNet-residual-after':
    case(
        'RLAResNet', depth=18, rla_source='residual', update_position='after'),
    'RLAResNet-shortcut-unshared':
    case('RLAResNet', depth=18, rla_source='shortcut', share_rla_convs=False),
    'RLAResNet-no-exchange-norm_tanh':
    case('RLAResNet', depth=18, exchange=False, readout='norm_tanh'),
    # Classification and detection modes, ECA and SE, checkpointing, the
    # deployed forms.
    'RLAResNet-50-ECA':
    case('RLAResNet', depth=50, **ECA),
    'RLAResNet-50-det-frozen':
    case('RLAResNet', depth=50, frozen_stages=1, norm_eval=True, **DET),
    'RLAResNet-18-det-SE':
    case('RLAResNet', depth=18, se_ratio=16, **DET),
    'RLAResNet-50-ECA-with_cp':
    case('RLAResNet', depth=50, with_cp=True, **ECA),
    'RLAResNet-deep_stem-avg_down-deploy':
    case('RLAResNet', 'deploy', depth=18, deep_stem=True, avg_down=True),
    'RLAResNet-50-ECA-deploy':
    case('RLAResNet', 'deploy', depth=50, **ECA),
    'RLAMobileNetV2-ECA-unshared-PostActRLACell':
    case(
        'RLAMobileNetV2',
        eca_kernel_sizes=(1, 1, 1, 1, 3, 3, 3),
        share_recurrent_conv=False,
        cell_cfg=dict(type='PostActRLACell')),
    'RLAMobileNetV2-det-with_cp':
    case('RLAMobileNetV2', out_indices=(1, 2, 4, 6), with_cp=True),
    'RLAMobileNetV2-deploy':
    case('RLAMobileNetV2', 'deploy'),
    # The CIFAR models and their baselines.
    'RLAPreActResNet-110':
    case('RLAPreActResNet', depth=110),
    'RLAPreActResNet-164-shortcut-ConvGRUCell':
    case('RLAPreActResNet', depth=164, rla_source='shortcut', **GRU),
    'RLAPreActResNet-164-channel12':
    case('RLAPreActResNet', depth=164, with_rla=False, extra_channels=12),
    'RLAXception-baseline':
    case('RLAXception', with_rla=False),
    'RLAXception-deploy':
    case('RLAXception', 'deploy'),
    'RLAXception-with_cp':
    case('RLAXception', with_cp=True),
    'LayerAggregationDenseNet-shared_lag':
    case('LayerAggregationDenseNet', depth=22, aggregation='shared_lag'),
    'LayerAggregationDenseNet-shared_ordinal':
    case('LayerAggregationDenseNet', depth=22, aggregation='shared_ordinal'),
    'LayerAggregationDenseNet-shared_lag-with_cp':
    case(
        'LayerAggregationDenseNet',
        depth=22,
        aggregation='shared_lag',
        with_cp=True),
    # Recurrent Layer Attention.
    'LayerAttentionResNet-18':
    case('LayerAttentionResNet', depth=18),
    'LayerAttentionResNet-50-det':
    case('LayerAttentionResNet', depth=50, out_indices=(0, 1, 2, 3)),
    'LayerAttentionResNet-vector-gmp_mlp-linear':
    case(
        'LayerAttentionResNet',
        depth=20,
        vector=True,
        context='gmp_mlp',
        context_resize='linear'),
    'LayerAttentionResNet-SE-output-gap_mlp-fc':
    case(
        'LayerAttentionResNet',
        depth=20,
        se_ratio=16,
        attention_position='output',
        context='gap_mlp',
        context_resize='fc'),
    'LayerAttentionResNet-gmp-with_cp':
    case('LayerAttentionResNet', depth=20, context='gmp', with_cp=True),
    'LayerAttentionResNet-SE-baseline':
    case('LayerAttentionResNet', depth=20, layer_attention=False, se_ratio=16),
}


def registered_backbones():
    """Names of the backbones mmrla registers."""
    return sorted(
        name for name, cls in MODELS.module_dict.items()
        if getattr(cls, '__module__', '').startswith('mmrla.models.backbones'))


@pytest.fixture(autouse=True)
def two_blocks_per_stage(monkeypatch):
    """Build the deep stages with two blocks (the first of a stage, which
    strides and projects, and one that does not) and Xception's middle flow
    with two modules."""
    for cls, depths in ((RLAResNet, (50, )), (ECAResNet, (50, )),
                        (RLAPreActResNet, (110, 164)), (LayerAttentionResNet,
                                                        (20, 50))):
        for depth in depths:
            block, stages = cls.arch_settings[depth]
            monkeypatch.setitem(cls.arch_settings, depth,
                                (block, (2, ) * len(stages)))
    cifar = dict(RLAXception.arch_settings['cifar'])
    *entry, (exit_entry, (middle, _, stride), exit_module) = cifar['stages']
    cifar['stages'] = (*entry, (exit_entry, (middle, 2, stride), exit_module))
    monkeypatch.setitem(RLAXception.arch_settings, 'cifar', cifar)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def build(name: str, kwargs: dict, form: Optional[str] = None):
    try:
        model = MODELS.build(dict(type=name, **kwargs))
    except TypeError as e:
        pytest.fail(f'cannot build {name} with {kwargs} ({e}); give it '
                    f'small arguments in SMALL_ARGS of {__file__}.')
    if form == 'deploy':
        model.switch_to_deploy()
    return model


def assert_one_graph(model: torch.nn.Module, modes=(True, False)) -> None:
    """One graph and no graph break in each of the training ``modes``."""
    torch.manual_seed(0)
    x = torch.randn(INPUT)
    for training in modes:
        model.train(training)
        torch._dynamo.reset()
        result = torch._dynamo.explain(model)(x)
        mode = 'train' if training else 'eval'
        reasons = [str(r) for r in result.break_reasons]
        assert (result.graph_count, result.graph_break_count) == (1, 0), \
            f'{mode} mode: {result.graph_count} graphs, ' \
            f'{result.graph_break_count} breaks: {reasons}'


def test_every_backbone_is_listed():
    # mmrla registers these; a new backbone is traced by the next test with
    # SMALL_ARGS (or its defaults).
    assert set(SMALL_ARGS) <= set(registered_backbones())
    assert {
        'RLAResNet', 'RLAMobileNetV2', 'RLAPreActResNet', 'RLAXception',
        'LayerAggregationDenseNet', 'LayerAttentionResNet'
    } <= set(registered_backbones())


@pytest.mark.parametrize('name', registered_backbones())
def test_registered_backbone_is_one_graph(name):
    assert_one_graph(build(name, SMALL_ARGS.get(name, {})))


# Most of this file's time: the quick loop (-m "not slow") keeps
# every registered backbone and the compiled training loop.
@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(OPTION_SETS))
def test_option_set_is_one_graph(case):
    name, kwargs, form = OPTION_SETS[case]
    model = build(name, kwargs, form)
    assert_one_graph(model, (False, ) if form == 'deploy' else (True, False))


def _loss(outputs) -> torch.Tensor:
    return sum(o.float().mean() for o in outputs)


# The quick loop keeps one backbone; the full run takes them all.
@pytest.mark.parametrize(
    'name',
    slow_where(registered_backbones(), lambda name: name != 'RLAPreActResNet'))
def test_compiled_training_recompiles_nothing(name):
    """Three training steps, an eval pass, one more step and eval pass: one
    compilation for each mode, both on their first call."""
    model = build(name, SMALL_ARGS.get(name, {}))
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch.manual_seed(0)
    x = torch.randn(INPUT)
    compiles = []
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        _loss(compiled(x)).backward()
        optimizer.step()
        compiles.append(counter.frame_count)
    model.eval()
    with torch.no_grad():
        compiled(x)
        compiles.append(counter.frame_count)
    model.train()
    _loss(compiled(x)).backward()
    model.eval()
    with torch.no_grad():
        compiled(x)
    compiles.append(counter.frame_count)
    assert compiles == [1, 1, 1, 2, 2]
