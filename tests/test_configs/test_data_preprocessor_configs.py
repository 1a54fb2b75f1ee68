"""Every config normalizes through a checked data preprocessor, so that an
image of the wrong channel count is refused in one line."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob('configs/**/*.py', root_dir=REPO, recursive=True)
    if '/_base_/' not in p and not p.startswith('configs/deploy/'))


def _preprocessor(cfg) -> dict:
    """What the runner and mmpretrain's get_model give the model: its own
    data_preprocessor, else the config's top-level one."""
    return cfg.model.get('data_preprocessor') or cfg.data_preprocessor


# Loads every config file (about half a minute).
@pytest.mark.slow
def test_every_config_uses_a_checked_preprocessor():
    assert len(CONFIGS) > 100
    wrong = {}
    for path in CONFIGS:
        cfg = Config.fromfile(osp.join(REPO, path))
        kind = ('CheckedClsDataPreprocessor' if cfg.model.type
                == 'ImageClassifier' else 'CheckedDetDataPreprocessor')
        preprocessor = _preprocessor(cfg)
        if preprocessor.get('type') != kind or 'mean' not in preprocessor:
            wrong[path] = preprocessor
    assert not wrong
