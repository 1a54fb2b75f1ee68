"""RLAResNet against the independent plain-torch reference.

Weights in the authors' key layout (``tests/fixtures/reference_models.py``) go
through ``convert_rlanet_state_dict`` into an mmpretrain classifier with an
RLAResNet backbone, and both must give the same logits in float64. This
covers what the released checkpoints cannot: basic blocks (depths 18 and
34) and ``rla_source='residual'``, where the stage's shared 1x1 conv reads
the residual branch (after its last norm and SE/ECA) instead of the block
output. The model and its deployed form must both agree with it.
Widths are reduced (stem and base 16, k = 8) to keep the test fast;
the structure is that of the full models.
"""
import pytest
import torch
from mmpretrain.registry import MODELS

from mmrla.converters import convert_rlanet_state_dict
from tests.fixtures.reference_models import RefRLAResNet, randomize_

WIDTH = dict(stem=16, base=16, k=8)
NUM_CLASSES = 10


def _classifier(depth: int, expansion: int, **backbone) -> torch.nn.Module:
    import mmrla.models  # noqa: F401
    in_channels = WIDTH['base'] * 8 * expansion + WIDTH['k']
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='RLAResNet',
                depth=depth,
                stem_channels=WIDTH['stem'],
                base_channels=WIDTH['base'],
                rla_channel=WIDTH['k'],
                **backbone),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=NUM_CLASSES,
                in_channels=in_channels)))


def _reference(layers, block, **kwargs) -> RefRLAResNet:
    return RefRLAResNet(
        layers=layers,
        block=block,
        num_classes=NUM_CLASSES,
        stem=WIDTH['stem'],
        base=WIDTH['base'],
        k=WIDTH['k'],
        **kwargs)


CASES = {
    'r18': (18, (2, 2, 2, 2), 'basic', {}, {}),
    'r34_eca': (34, (3, 4, 6, 3), 'basic', dict(eca=[3, 3, 3, 5]),
                dict(eca_kernel_sizes=(3, 3, 3, 5))),
    'r18_residual': (18, (2, 2, 2, 2), 'basic', dict(source='residual'),
                     dict(rla_source='residual')),
    'r50_residual_eca':
    (50, (3, 4, 6, 3), 'bottleneck', dict(source='residual', eca=[3, 3, 3, 5]),
     dict(rla_source='residual', eca_kernel_sizes=(3, 3, 3, 5))),
}


def _pair(case: str):
    depth, layers, block, ref_kwargs, ours = CASES[case]
    torch.manual_seed(0)
    ref = randomize_(_reference(layers, block, **ref_kwargs), seed=1)
    official = {f'module.{k}': v for k, v in ref.state_dict().items()}
    model = _classifier(depth, 4 if block == 'bottleneck' else 1, **ours)
    result = model.load_state_dict(
        convert_rlanet_state_dict(official), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ref.double().eval(), model.double().eval()


@pytest.mark.parametrize('form', ['model', 'deploy'])
@pytest.mark.parametrize('case', list(CASES))
def test_logits_equal_the_reference(case, form):
    ref, model = _pair(case)
    if form == 'deploy':
        model.backbone.switch_to_deploy()
    x = torch.rand(2, 3, 64, 96, dtype=torch.float64)
    with torch.no_grad():
        expected = ref(x)
        logits = model(x, mode='tensor')
    assert logits.shape == (2, NUM_CLASSES)
    # Random weights keep the logits O(1); float64 leaves only rounding.
    assert expected.abs().max() > 1e-2
    torch.testing.assert_close(logits, expected, rtol=1e-10, atol=1e-10)


def test_the_residual_source_changes_the_reference():
    """Same weights, other source: the logits move, so the equality above
    checks the residual path rather than a source that is ignored."""
    ref_output, _ = _pair('r18')
    ref_residual, _ = _pair('r18_residual')
    x = torch.rand(2, 3, 64, 96, dtype=torch.float64)
    with torch.no_grad():
        change = ref_residual(x) - ref_output(x)
    assert change.abs().max() > 1e-3
