"""Every ablation config builds through mmpretrain's API with the parameter
count of the authors' model (docs/paper_tables.md) and the paper's Table 11/15
figure in units of 2**20."""
import os.path as osp

import pytest
from mmengine.config import Config

from tests.fixtures.models import num_params

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# config: (exact count of the authors' model with a 1000-class fc, the
# paper's figure in 2**20 units, or None where the paper has none).
PARAMS = {
    'r50rla_v1_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rla_v2_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rla_v3_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rla_v4_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rla_v5_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rla_v6_4xb64_in1k.py': (25_870_696, 24.67),
    'r50rla_postact_4xb64_in1k.py': (25_870_632, 24.67),
    'r50rla_unshared_4xb64_in1k.py': (26_341_736, 25.12),
    'r101rla_unshared_4xb64_in1k.py': (46_187_944, 44.05),
    'r50rla_noexchange_4xb64_in1k.py': (25_749_864, 24.56),
    'r50rla_convlstm_4xb64_in1k.py': (26_128_680, 24.92),
    'r50rla_convgru_4xb64_in1k.py': (26_056_104, None),
    'r50_channel32_4xb64_in1k.py': (26_794_280, 25.55),
}


def _path(name):
    return osp.join(REPO, 'configs', 'ablations', name)


def test_every_ablation_config_is_listed():
    import glob
    found = {osp.basename(p) for p in glob.glob(_path('*.py'))}
    assert found == set(PARAMS)


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_ablation_config_builds_with_the_authors_param_count(name):
    from mmpretrain.apis import get_model
    cfg = Config.fromfile(_path(name))
    # Works from a plain install: mmrla's models (and its resume hook).
    assert 'mmrla.models' in cfg.custom_imports['imports']
    assert cfg.custom_imports['allow_failed_imports'] is False
    model = get_model(cfg)
    count = num_params(model)
    expected, paper = PARAMS[name]
    assert count == expected
    if paper is not None:
        assert round(count / 2**20, 2) == paper
    assert model.head.fc.out_features == 1000
    # The paper's recipe, as for the released models.
    assert cfg.train_cfg.max_epochs == 120
    assert cfg.param_scheduler.milestones == [30, 60, 90]
    assert cfg.train_dataloader.batch_size == 64
