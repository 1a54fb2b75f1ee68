import pytest
from mmengine.registry import DefaultScope


def _restore_default_scope():
    """Undo the default scope set after this point (a generator fixture).

    Runners, inferencers and mmdeploy set mmengine's global default scope
    (mmdet, mmpretrain); a later test that builds through another library's
    registry would then look in the wrong scope, so each test, and each
    module with its module-scoped fixtures, starts from the scope it found.
    """
    # ManagerMixin's "current instance" is the last entry of this dict.
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


# Autouse fixtures of a scope set up before the other fixtures of that
# scope, so the module-scoped one also undoes what a module's fixtures set.
_isolated_default_scope = pytest.fixture(autouse=True)(_restore_default_scope)
_isolated_module_default_scope = pytest.fixture(
    autouse=True, scope='module')(
        _restore_default_scope)
