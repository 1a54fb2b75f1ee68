"""A quiet start: the tools print their own output, not deprecation
notices of the libraries under them."""
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# setuptools >= 80.9 warns on every import of pkg_resources (mmengine
# imports it to find mmpretrain:: and mmdet:: bases); torch warns when
# mmengine imports torch.distributed.optim.
NOTICES = ('pkg_resources is deprecated', 'TorchScript')


def _run(*args):
    result = subprocess.run([sys.executable, *args],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def _assert_quiet(result):
    import setuptools
    for notice in NOTICES:
        assert notice not in result.stderr + result.stdout, (
            f'{notice!r} printed (setuptools {setuptools.__version__}; '
            'tools/setup_env.sh installs setuptools<80.9)')


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_help_is_quiet(tool):
    result = _run(tool, '--help')
    assert result.stdout.startswith('usage:')
    _assert_quiet(result)


@pytest.mark.slow
def test_models_by_name_and_a_config_load_quietly():
    result = _run(
        '-c', 'import mmrla, mmpretrain; '
        'print(mmpretrain.list_models("*rla*")); '
        'from mmrla.cli import load_config; '
        'print(load_config("configs/r50rla_4xb64_in1k.py").model.type)')
    assert 'rla-resnet50_4xb64_in1k' in result.stdout
    assert result.stdout.split()[-1] == 'ImageClassifier'
    _assert_quiet(result)
