"""tools/mmcv_build.py builds mmcv's ops for the torch that is installed and
never installs a build made for another torch.

The end-to-end tests stand a small torch in for the real one (its version
is what changes when a user installs another torch) and a small mmcv source
archive in for mmcv 2.1.0's, whose ``mmcv.ops`` fails to import under any
torch other than the one it was built against, as the real ops do
(``undefined symbol``). So they run the real key, cache, pip and stamp logic
in seconds, without compiling mmcv.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.fixtures.console import REPO
from tools import mmcv_build

ATEN = ('#if !defined(__cplusplus) || __cplusplus < {std}\n'
        '#error C++{n} or later compatible compiler is required to use ATen.'
        '\n#endif\n')
INFO = dict(
    python='cp312',
    torch='2.14.1+cu130',
    cuda='13.0',
    cuda_ops=False,
    cxx_std=20)


def write_torch(site, version, cuda=None, cxx_std=17):
    """A package ``torch`` in ``site`` with what the build reads of it."""
    root = osp.join(site, 'torch')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(osp.join(root, 'include', 'ATen'))
    with open(osp.join(root, '__init__.py'), 'w') as f:
        f.write(f'__version__ = {version!r}\nfrom . import cuda, version\n')
    with open(osp.join(root, 'version.py'), 'w') as f:
        f.write(f'cuda = {cuda!r}\n')
    with open(osp.join(root, 'cuda.py'), 'w') as f:
        f.write('def is_available():\n    return False\n')
    with open(osp.join(root, 'include', 'ATen', 'ATen.h'), 'w') as f:
        f.write(ATEN.format(std=f'{2000 + cxx_std}00L', n=cxx_std))


FAKE_SETUP = '''import torch
from setuptools import setup

# What the real build does in effect: its ops belong to this torch.
with open('mmcv/ops/_built_for.py', 'w') as f:
    f.write(f'TORCH = {torch.__version__!r}\\n')
setup(name='mmcv', version='2.1.0', packages=['mmcv', 'mmcv.ops'])
'''
FAKE_OPS = '''import torch

from ._built_for import TORCH

if TORCH != torch.__version__:
    raise ImportError(f'undefined symbol (ops built for torch {TORCH})')
'''


def write_sdist(folder):
    """A source archive of an ``mmcv`` 2.1.0 whose ops import only under the
    torch that built them."""
    src = osp.join(folder, 'mmcv-2.1.0')
    os.makedirs(osp.join(src, 'mmcv', 'ops'))
    files = {
        'setup.py': FAKE_SETUP,
        'mmcv/__init__.py': "__version__ = '2.1.0'\n",
        'mmcv/ops/__init__.py': FAKE_OPS,
    }
    for name, text in files.items():
        with open(osp.join(src, name), 'w') as f:
            f.write(text)
    path = osp.join(folder, 'mmcv-2.1.0.tar.gz')
    with tarfile.open(path, 'w:gz') as tar:
        tar.add(src, arcname='mmcv-2.1.0')
    return path


@pytest.fixture
def env(tmp_path):
    """A venv whose own site-packages hold the stand-in torch, in front of
    this environment's packages (pip, setuptools), which a .pth adds."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)],
                   check=True)
    python = str(venv / 'bin' / 'python')
    site = subprocess.run([
        python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'
    ],
                          capture_output=True,
                          text=True,
                          check=True).stdout.strip()
    parents = [p for p in sys.path if p.endswith('site-packages')]
    with open(osp.join(site, 'parent.pth'), 'w') as f:
        f.write('\n'.join(parents) + '\n')
    return dict(
        python=python,
        prefix=str(venv),
        site=site,
        cache=str(tmp_path / 'cache'),
        sdist=write_sdist(str(tmp_path / 'src')))


def ensure(env):
    """``mmcv_build.ensure`` inside the venv; returns its action."""
    code = ('import sys; sys.path.insert(0, {repo!r}); '
            'from tools import mmcv_build; '
            'print(mmcv_build.ensure(cache={cache!r}, sdist={sdist!r}))')
    proc = subprocess.run([
        env['python'], '-c',
        code.format(repo=REPO, cache=env['cache'], sdist=env['sdist'])
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()[-1]


def built_for(env):
    """The torch that the installed mmcv's ops were built against; fails
    when ``import mmcv.ops`` fails."""
    proc = subprocess.run([
        env['python'], '-c',
        'import mmcv.ops, mmcv.ops._built_for as b; print(b.TORCH)'
    ],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.slow
def test_a_new_torch_in_the_venv_gets_ops_built_for_it(env):
    write_torch(env['site'], '2.5.1')
    assert ensure(env) == 'build'
    assert built_for(env) == '2.5.1'
    assert ensure(env) == 'keep'

    # The user installs another torch into the same venv: the ops installed
    # no longer import, and the only cached build is the old torch's.
    write_torch(env['site'], '2.14.1', cuda='13.0', cxx_std=17)
    assert ensure(env) == 'build'
    assert built_for(env) == '2.14.1'
    keys = [
        n for n in os.listdir(env['cache'])
        if n.startswith('cp') and not n.endswith('.log')
    ]
    assert len(keys) == 2
    assert any('torch2.5.1-cpu' in k for k in keys)
    assert any('torch2.14.1-cu130' in k for k in keys)

    # Back to the first torch: its own build comes from the cache.
    write_torch(env['site'], '2.5.1')
    assert ensure(env) == 'install'
    assert built_for(env) == '2.5.1'
    with open(osp.join(env['prefix'], mmcv_build.RECORD)) as f:
        assert 'torch2.5.1-cpu' in f.read()


@pytest.mark.slow
def test_setup_env_reruns_after_a_change_of_torch(env, tmp_path):
    """The stamp of tools/setup_env.sh holds the build key: with the same
    torch a second run returns at once; after another torch is installed it
    sets up again (here its first pip call, which the stand-in refuses)."""
    venv = tmp_path / 'venv'
    write_torch(env['site'], '2.5.1')
    for name in ('mmrla', 'mmcv', 'mmcv/ops', 'mmdet', 'mmpretrain'):
        os.makedirs(osp.join(env['site'], name))
        open(osp.join(env['site'], name, '__init__.py'), 'w').close()
    # pip calls are recorded and fail; everything else is Python.
    real = env['python'] + '.real'
    os.rename(env['python'], real)
    log = tmp_path / 'pip.txt'
    wrapper = venv / 'bin' / 'python'
    wrapper.write_text(f'#!/bin/sh\nif [ "$1 $2" = "-m pip" ]; then\n'
                       f'  echo "$*" >> {log}; exit 1\nfi\n'
                       f'exec {real} "$@"\n')
    wrapper.chmod(0o755)
    script = osp.join(REPO, 'tools', 'setup_env.sh')
    key = subprocess.run([str(wrapper), mmcv_build.__file__, 'key'],
                         capture_output=True,
                         text=True,
                         check=True).stdout.strip()
    files = subprocess.run(
        f'cat {REPO}/requirements/*.txt {REPO}/requirements/patches/* '
        f'{REPO}/setup.py {script} {mmcv_build.__file__} | sha1sum',
        shell=True,
        capture_output=True,
        text=True,
        check=True).stdout.split()[0]
    (venv / '.mmrla-setup-stamp').write_text(f'{files} {key}\n')
    run_env = dict(os.environ, VENV=str(venv))
    # The stand-in mmrla, not the repository's (hence the cwd below too).
    run_env.pop('PYTHONPATH', None)

    proc = subprocess.run(['bash', script],
                          cwd=tmp_path,
                          env=run_env,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert not log.exists()

    write_torch(env['site'], '2.14.1', cuda='13.0', cxx_std=20)
    proc = subprocess.run(['bash', script],
                          cwd=tmp_path,
                          env=run_env,
                          capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert '-m pip' in log.read_text()


def test_the_key_names_python_torch_cuda_and_ops():
    key = mmcv_build.build_key(INFO)
    assert key.startswith('cp312-torch2.14.1+cu130-cu130-cpuops-')
    assert key.endswith('-cxx20-' + mmcv_build.patch_digest())
    changes = [
        dict(python='cp313'),
        dict(torch='2.14.0+cu130'),
        dict(cuda='12.8'),
        dict(cuda=None),
        dict(cuda_ops=True),
        dict(cxx_std=17)
    ]
    keys = {mmcv_build.build_key(dict(INFO, **c)) for c in changes}
    assert len(keys | {key}) == len(changes) + 1
    # No patch for a torch that compiles with C++17: no digest either.
    assert mmcv_build.build_key(dict(INFO, cxx_std=17)).endswith('-cxx17')


@pytest.mark.slow
def test_the_key_follows_the_torch_that_python_imports(env):
    write_torch(env['site'], '2.5.1', cxx_std=17)
    first = subprocess.run([env['python'], mmcv_build.__file__, 'key'],
                           capture_output=True,
                           text=True,
                           check=True).stdout.strip()
    write_torch(env['site'], '2.14.1', cuda='13.0', cxx_std=20)
    second = subprocess.run([env['python'], mmcv_build.__file__, 'key'],
                            capture_output=True,
                            text=True,
                            check=True).stdout.strip()
    assert first.startswith(f'cp{sys.version_info[0]}{sys.version_info[1]}'
                            '-torch2.5.1-cpu-cpuops-')
    assert first.endswith('-cxx17')
    assert '-torch2.14.1-cu130-cpuops-' in second
    assert second.endswith('-cxx20-' + mmcv_build.patch_digest())


def test_the_cxx_standard_comes_from_torchs_headers(tmp_path):
    for n in (17, 20):
        aten = tmp_path / str(n) / 'ATen'
        aten.mkdir(parents=True)
        (aten / 'ATen.h').write_text(ATEN.format(std='0', n=n))
        assert mmcv_build.required_cxx_std(str(tmp_path / str(n))) == n


@pytest.mark.parametrize('version, stack', [('2.5.1', 'default'),
                                            ('2.5.1+cu124', 'default'),
                                            ('2.6.0', 'current'),
                                            ('2.14.1+cu130', 'current'),
                                            ('3.0.0', 'current')])
def test_the_torch_version_picks_the_stack(version, stack):
    assert mmcv_build.stack(version) == stack


def test_only_the_build_of_the_installed_torchs_key_is_installed(tmp_path):
    key = mmcv_build.build_key(INFO)
    old = mmcv_build.build_key(dict(INFO, torch='2.5.1', cxx_std=17))
    whl = 'mmcv-2.1.0-cp312-cp312-linux_x86_64.whl'
    (tmp_path / old).mkdir()
    (tmp_path / old / whl).write_bytes(b'')
    # A change of torch: the old torch's wheel is in the cache, not ours.
    wheel = mmcv_build.cached_wheel(str(tmp_path / key))
    assert wheel is None
    assert mmcv_build.plan(key, old, wheel, '') == 'build'
    (tmp_path / key).mkdir()
    (tmp_path / key / whl).write_bytes(b'')
    wheel = mmcv_build.cached_wheel(str(tmp_path / key))
    assert wheel == str(tmp_path / key / whl)
    assert mmcv_build.plan(key, old, wheel, '') == 'install'
    # The recorded key matches but the ops do not import (e.g. mmcv was
    # reinstalled by hand from pip's cache): install ours again.
    assert mmcv_build.plan(key, key, wheel, 'undefined symbol') == 'install'
    assert mmcv_build.plan(key, key, wheel, '') == 'keep'
    # An mmcv that an older set-up installed has no record.
    assert mmcv_build.plan(key, None, None, '') == 'build'


def stand_in(path, text):
    path.write_text('#!/bin/sh\n' + text)
    path.chmod(0o755)
    return str(path)


def test_no_compiler_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv('CXX', str(tmp_path / 'g++'))
    with pytest.raises(mmcv_build.BuildError, match='^no C\\+\\+ compiler'):
        mmcv_build.check_toolchain(INFO)


def test_a_compiler_without_cxx20_is_named(monkeypatch, tmp_path):
    cxx = stand_in(
        tmp_path / 'g++', 'case "$1" in --version) echo "g++ (old) 9.4.0";;'
        ' -std=c++20) exit 1;; esac\n')
    monkeypatch.setenv('CXX', cxx)
    with pytest.raises(mmcv_build.BuildError) as e:
        mmcv_build.check_toolchain(INFO)
    assert 'g++ (old) 9.4.0' in str(e.value)
    assert 'does not compile C++20' in str(e.value)
    assert '\n' not in str(e.value)


@pytest.mark.skipif(shutil.which('c++') is None, reason='needs c++')
def test_the_cxx20_probe_really_compiles(monkeypatch, tmp_path):
    """This machine's compiler passes for C++17 and C++20; the same compiler
    made to compile C++17 when asked for C++20 fails the probe."""
    monkeypatch.setenv('CXX', 'c++')
    for std in (17, 20):
        mmcv_build.check_toolchain(dict(INFO, cxx_std=std))
    cxx = stand_in(
        tmp_path / 'g++', 'if [ "$1" = -std=c++20 ]; then shift; '
        'exec c++ -std=c++17 "$@"; fi\nexec c++ "$@"\n')
    monkeypatch.setenv('CXX', cxx)
    with pytest.raises(mmcv_build.BuildError, match='not compile C\\+\\+20'):
        mmcv_build.check_toolchain(INFO)


def test_nvcc_of_another_cuda_is_named(monkeypatch, tmp_path):
    (tmp_path / 'bin').mkdir()
    stand_in(tmp_path / 'bin' / 'nvcc',
             'echo "Cuda compilation tools, release 11.8, V11.8.89"\n')
    monkeypatch.setenv('CXX', 'c++')
    monkeypatch.setenv('CUDA_HOME', str(tmp_path))
    info = dict(INFO, cuda='12.4', cuda_ops=True, cxx_std=17)
    with pytest.raises(mmcv_build.BuildError) as e:
        mmcv_build.check_toolchain(info)
    assert 'is CUDA 11.8 but torch 2.14.1+cu130 is built with CUDA 12.4' \
        in str(e.value)
    with pytest.raises(mmcv_build.BuildError, match='is a CPU build'):
        mmcv_build.check_toolchain(dict(info, cuda=None))
    monkeypatch.setenv('CUDA_HOME', str(tmp_path / 'none'))
    with pytest.raises(mmcv_build.BuildError, match='^no nvcc found'):
        mmcv_build.check_toolchain(info)
