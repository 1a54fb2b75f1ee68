import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """Undo the default scope a test leaves behind.

    Runners and inferencers set mmengine's global default scope (mmdet,
    mmpretrain); a later test that builds through another library's registry
    would then look in the wrong scope, so each test starts from the scope
    it found.
    """
    # ManagerMixin's "current instance" is the last entry of this dict.
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)
