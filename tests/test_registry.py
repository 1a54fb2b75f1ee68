from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS, DefaultScope

import mmrla.registry  # noqa: F401


def test_mmdet_scope_finds_the_collate_functions_without_a_fallback():
    # What mmdet's DetInferencer does to find its collate function.
    with DefaultScope.overwrite_default_scope('mmdet'):
        with FUNCTIONS.switch_scope_and_registry('mmdet') as registry:
            assert registry.scope == 'mmdet'
            assert registry.get('pseudo_collate') is pseudo_collate
    assert FUNCTIONS.children['mmdet'].parent is FUNCTIONS
