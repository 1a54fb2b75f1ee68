"""Models by name: mmrla's metafile in mmpretrain's model hub, detector
configs by name, and the model index in an installed wheel."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import mmpretrain
import pytest
import torch
import yaml

import mmrla  # noqa: F401  (registers the models)
from mmrla.apis import (load_models, model_config_path, model_index_root,
                        register_models)
from mmrla.converters import convert_rlanet_state_dict
from tests.fixtures.reference_models import RefRLAResNet, randomize_
from tests.fixtures.rlanet_checkpoints import authors_imagenet_checkpoint
from tests.fixtures.sizes import slow_if_deep

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _metafile_models(task):
    """(name, config) of the metafiles' models of ``task``, read directly
    through the files that model-index.yml imports."""
    with open(osp.join(REPO, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    models = []
    for metafile in metafiles:
        with open(osp.join(REPO, metafile)) as f:
            models += yaml.safe_load(f)['Models']
    return [(m['Name'], m['Config']) for m in models
            if task in [r['Task'] for r in m['Results']]]


CLASSIFIERS = _metafile_models('Image Classification')
DETECTORS = _metafile_models('Object Detection')


def test_metafile_lists_classifiers_and_detectors():
    assert len(CLASSIFIERS) == 8 and len(DETECTORS) == 12
    assert model_index_root() == REPO


def test_each_family_has_its_metafile_and_readme():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    assert len(metafiles) == 3
    for metafile in metafiles:
        family = osp.dirname(metafile)
        assert family.startswith('configs/')
        assert osp.isfile(osp.join(REPO, family, 'README.md'))
        with open(osp.join(REPO, metafile)) as f:
            meta = yaml.safe_load(f)
        collection, = meta['Collections']
        assert collection['README'] == f'{family}/README.md'
        for model in meta['Models']:
            assert model['In Collection'] == collection['Name']
            assert osp.isfile(osp.join(REPO, model['Config']))


def test_list_models_lists_every_classifier_and_no_detector():
    assert mmpretrain.list_models('*rla*') == sorted(n for n, _ in CLASSIFIERS)
    assert mmpretrain.list_models(
        '*rla*',
        task='Image Classification') == sorted(n for n, _ in CLASSIFIERS)
    # mmpretrain cannot build detectors; they are named through mmrla.
    assert not set(mmpretrain.list_models()) & {n for n, _ in DETECTORS}


def test_registering_again_changes_nothing():
    before = mmpretrain.list_models()
    assert register_models() == [n for n, _ in CLASSIFIERS]
    assert mmpretrain.list_models() == before


@pytest.mark.parametrize('name,config', slow_if_deep(CLASSIFIERS))
def test_get_model_builds_each_classifier(name, config):
    from mmengine.config import Config
    model = mmpretrain.get_model(name)
    expected = Config.fromfile(osp.join(REPO, config)).model.backbone
    backbone = model.backbone
    assert type(backbone).__name__ == expected.type
    if expected.type == 'RLAResNet':
        assert backbone.depth == expected.depth
    has_eca = any(type(m).__name__ == 'ECALayer' for m in backbone.modules())
    assert has_eca == ('eca' in name)
    assert model._metainfo.config.filename == osp.join(REPO, config)
    assert not model.training


def test_get_model_loads_a_converted_checkpoint(tmp_path):
    ref = randomize_(RefRLAResNet(eca=[5, 5, 5, 7])).eval()
    released = authors_imagenet_checkpoint(ref, 'rla_resnet50_eca')
    path = tmp_path / 'rla_ecaresnet50_in1k.pth'
    torch.save(
        {'state_dict': convert_rlanet_state_dict(released['state_dict'])},
        path)
    model = mmpretrain.get_model(
        'rla-ecaresnet50_4xb64_in1k', pretrained=str(path))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode='tensor'), ref(x), atol=1e-4, rtol=1e-4)


def test_detectors_by_name_for_det_inferencer():
    from mmdet.apis import DetInferencer
    name, config = DETECTORS[0]
    assert model_config_path(name.upper()) == osp.join(REPO, config)
    inferencer = DetInferencer(
        model=model_config_path(name), device='cpu', show_progress=False)
    assert type(inferencer.model.backbone).__name__ == 'RLAResNet'
    assert [m.name for m in load_models('Object Detection')] == \
        [n for n, _ in DETECTORS]
    with pytest.raises(
            ValueError,
            match='no model named "rla-resnet5".*'
            'rla-resnet50_4xb64_in1k'):
        model_config_path('rla-resnet5')


@pytest.mark.slow
def test_an_installed_wheel_carries_the_model_index(tmp_path):
    """``pip install .`` (not editable) copies the configs and the model
    index into mmrla/.mim; models by name work from there."""
    src = tmp_path / 'src'
    for name in ('setup.py', 'README.md', 'model-index.yml'):
        os.makedirs(src, exist_ok=True)
        shutil.copy(osp.join(REPO, name), src / name)
    for name in ('mmrla', 'configs', 'requirements'):
        shutil.copytree(
            osp.join(REPO, name),
            src / name,
            ignore=shutil.ignore_patterns('__pycache__', '.mim'))
    run = dict(capture_output=True, text=True, timeout=300)
    result = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '--no-index', '-q',
        str(src), '-w',
        str(tmp_path / 'dist')
    ], **run)
    assert result.returncode == 0, result.stderr
    wheel = next((tmp_path / 'dist').glob('mmrla-*.whl'))
    result = subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
        '-q', '--target',
        str(tmp_path / 'site'),
        str(wheel)
    ], **run)
    assert result.returncode == 0, result.stderr
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'site'))
    result = subprocess.run([
        sys.executable, '-c', 'import mmrla, mmpretrain, mmrla.apis; '
        'print(mmrla.__file__); print(mmrla.apis.model_index_root()); '
        'print(len(mmpretrain.list_models("*rla*"))); '
        'print(type(mmpretrain.get_model("rla-mobilenet-v2_2xb48_in1k")'
        '.backbone).__name__)'
    ],
                            cwd=str(tmp_path),
                            env=env,
                            **run)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    site = str(tmp_path / 'site' / 'mmrla')
    assert lines == [
        osp.join(site, '__init__.py'),
        osp.join(site, '.mim'), '8', 'RLAMobileNetV2'
    ]
