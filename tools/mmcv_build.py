"""Builds mmcv 2.1.0 with its ops for the torch installed in this Python.

tools/setup_env.sh runs it with the venv's python::

    python tools/mmcv_build.py key     # e.g. cp312-torch2.14.1+cu130-...
    python tools/mmcv_build.py stack   # default | current
    python tools/mmcv_build.py ensure  # mmcv for that key, built once

mmcv's compiled ops link against one torch, one CUDA and one Python. A wheel
built for another torch imports with ``undefined symbol`` (or worse, loads),
and pip's own wheel cache does not know which torch a wheel was built for.
So each build goes into a folder of its own, named by the key of the torch
it was built against (``MMCV_CACHE``, default ``~/.cache/mmrla/mmcv``), the
key of the installed build is recorded in the environment
(``<sys.prefix>/.mmrla-mmcv-key``), and ``ensure`` installs or builds again
whenever the installed torch's key differs from the recorded one.
"""
import hashlib
import os
import os.path as osp
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

VERSION = '2.1.0'
# sha256 of mmcv-2.1.0.tar.gz on PyPI: the patch applies to these sources.
SDIST_SHA256 = \
    'd387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f'
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# mmcv 2.1.0 compiles with -std=c++17; newer torch headers refuse anything
# older than C++20 (see docs/development.md).
CXX20_PATCH = osp.join(ROOT, 'requirements', 'patches',
                       'mmcv-2.1.0-cxx20.patch')
RECORD = '.mmrla-mmcv-key'
# The first torch of the current stack (numpy 2, constraints-current.txt).
CURRENT_FROM = (2, 6)


class BuildError(Exception):
    """A cause the build cannot get past; its message is one line."""


def cache_dir():
    default = osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'),
        'mmrla', 'mmcv')
    return os.environ.get('MMCV_CACHE') or default


def required_cxx_std(include_dir):
    """The C++ standard that torch's headers demand, e.g. 17 or 20."""
    header = osp.join(include_dir, 'ATen', 'ATen.h')
    try:
        with open(header) as f:
            text = f.read()
    except OSError:
        return 17
    match = re.search(r'C\+\+(\d+) or later compatible compiler', text)
    return int(match.group(1)) if match else 17


def torch_info():
    """What the build depends on, read from the torch this Python imports."""
    import torch
    cuda = torch.version.cuda
    cuda_ops = os.environ.get('FORCE_CUDA', '0') == '1' or \
        torch.cuda.is_available()  # mmcv's own condition for CUDA ops
    return dict(
        python=f'cp{sys.version_info[0]}{sys.version_info[1]}',
        torch=torch.__version__,
        cuda=cuda,
        cuda_ops=bool(cuda_ops),
        cxx_std=required_cxx_std(
            osp.join(osp.dirname(torch.__file__), 'include')))


def patch_digest():
    with open(CXX20_PATCH, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()[:8]


def build_key(info):
    """The folder name of a build, e.g.
    ``cp312-torch2.14.1+cu130-cu130-cpuops-cxx20-<patch digest>``."""
    cuda = 'cu' + info['cuda'].replace('.', '') if info['cuda'] else 'cpu'
    ops = 'cudaops' if info['cuda_ops'] else 'cpuops'
    key = (f"{info['python']}-torch{info['torch']}-{cuda}-{ops}-"
           f"{platform.machine()}-cxx{info['cxx_std']}")
    if info['cxx_std'] > 17:
        key += '-' + patch_digest()
    return key


def stack(torch_version):
    """``default`` (numpy 1, constraints-default.txt) up to torch 2.5,
    ``current`` (numpy 2, constraints-current.txt) from 2.6 on."""
    release = tuple(int(n) for n in re.findall(r'\d+', torch_version)[:2])
    return 'current' if release >= CURRENT_FROM else 'default'


def recorded_key(prefix=None):
    path = osp.join(prefix or sys.prefix, RECORD)
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cached_wheel(folder):
    """The mmcv wheel in ``folder``, or None."""
    if not osp.isdir(folder):
        return None
    wheels = sorted(
        n for n in os.listdir(folder)
        if n.startswith(f'mmcv-{VERSION}-') and n.endswith('.whl'))
    return osp.join(folder, wheels[0]) if wheels else None


def ops_import(python=None):
    """'' when ``import mmcv.ops`` works with this torch, else its error."""
    proc = subprocess.run([
        python or sys.executable, '-c',
        f'import mmcv, mmcv.ops; assert mmcv.__version__ == {VERSION!r}, '
        'mmcv.__version__'
    ],
                          capture_output=True,
                          text=True)
    if proc.returncode == 0:
        return ''
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f'exit code {proc.returncode}'


def plan(key, recorded, wheel, ops_error):
    """What ``ensure`` does: 'keep' the installed mmcv, 'install' the cached
    wheel of ``key`` or 'build' one.

    Only the wheel of the installed torch's key may be installed: the one
    installed stays only if it was recorded under that key and imports.
    """
    if recorded == key and not ops_error:
        return 'keep'
    return 'install' if wheel else 'build'


def _run(cmd, log=None, **kwargs):
    if log is None:
        return subprocess.run(cmd, **kwargs).returncode
    with open(log, 'a') as f:
        return subprocess.run(
            cmd, stdout=f, stderr=subprocess.STDOUT, **kwargs).returncode


def check_toolchain(info):
    """One line naming what cannot build mmcv's ops, before building."""
    cxx = os.environ.get('CXX', 'c++')
    if shutil.which(cxx) is None:
        raise BuildError(
            f'no C++ compiler ({cxx!r} not found): install one, e.g. '
            '`apt-get install g++`, or point CXX at it')
    std = info['cxx_std']
    with tempfile.TemporaryDirectory() as tmp:
        source = osp.join(tmp, 'probe.cpp')
        with open(source, 'w') as f:
            f.write(f'#if __cplusplus < {2000 + std}00L\n#error\n#endif\n'
                    'int main() { return 0; }\n')
        proc = subprocess.run(
            [cxx, f'-std=c++{std}', source, '-o',
             osp.join(tmp, 'probe')],
            capture_output=True,
            text=True)
    if proc.returncode != 0:
        version = subprocess.run([cxx, '--version'],
                                 capture_output=True,
                                 text=True).stdout.splitlines()
        raise BuildError(
            f"the compiler {cxx!r} ({version[0] if version else '?'}) does "
            f"not compile C++{std}, which torch {info['torch']}'s headers "
            f'need: install a newer one (g++ >= 10) and point CXX at it')
    if not info['cuda_ops']:
        return
    if not info['cuda']:
        raise BuildError(
            f"FORCE_CUDA=1 but torch {info['torch']} is a CPU build: install "
            'a CUDA build of torch first, or unset FORCE_CUDA')
    home = os.environ.get('CUDA_HOME') or os.environ.get('CUDA_PATH')
    nvcc = osp.join(home, 'bin', 'nvcc') if home else shutil.which('nvcc')
    if not nvcc or not osp.isfile(nvcc):
        raise BuildError(
            f"no nvcc found for CUDA ops (torch is built with CUDA "
            f"{info['cuda']}): install CUDA {info['cuda']} and set CUDA_HOME")
    out = subprocess.run([nvcc, '--version'], capture_output=True,
                         text=True).stdout
    found = re.search(r'release (\d+)\.(\d+)', out)
    nvcc_version = '.'.join(found.groups()) if found else '?'
    if nvcc_version.split('.')[0] != info['cuda'].split('.')[0]:
        raise BuildError(
            f"nvcc {nvcc} is CUDA {nvcc_version} but torch {info['torch']} "
            f"is built with CUDA {info['cuda']}: point CUDA_HOME at CUDA "
            f"{info['cuda']}")


def fetch_sdist(folder, pip):
    """mmcv 2.1.0's source archive, downloaded once into ``folder``."""
    path = osp.join(folder, f'mmcv-{VERSION}.tar.gz')
    if not osp.isfile(path):
        os.makedirs(folder, exist_ok=True)
        code = _run(pip + [
            'download', '-q', '--no-deps', '--no-binary', ':all:',
            '--no-build-isolation', '-d', folder, f'mmcv=={VERSION}'
        ])
        if code != 0 or not osp.isfile(path):
            raise BuildError(f'could not download mmcv {VERSION} from PyPI '
                             '(pip download failed, see above)')
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SDIST_SHA256:
        raise BuildError(f'{path} is not the mmcv {VERSION} release '
                         f'(sha256 {digest}): delete it and run again')
    return path


def build(info, key, sdist, cache, pip):
    """Builds a wheel into ``cache/key`` and returns its path."""
    check_toolchain(info)
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        with tarfile.open(sdist) as tar:
            names = tar.getnames()
            if any(n.startswith('/') or '..' in n.split('/') for n in names):
                raise BuildError(f'{sdist} holds paths outside itself')
            # Python >= 3.11.4 checks each member itself, too.
            kwargs = dict(
                filter='data') if hasattr(tarfile, 'data_filter') else {}
            tar.extractall(tmp, **kwargs)
        source = osp.join(tmp, names[0].split('/')[0])
        log = osp.join(cache, f'{key}.log')
        if info['cxx_std'] > 17:
            print(f"[mmcv_build] torch {info['torch']} needs C++"
                  f"{info['cxx_std']}: applying {osp.relpath(CXX20_PATCH)}")
            if _run(['patch', '-p1', '-s', '-i', CXX20_PATCH],
                    cwd=source) != 0:
                raise BuildError(f'{CXX20_PATCH} does not apply to {sdist}')
        out = osp.join(tmp, 'wheel')
        env = dict(
            os.environ,
            MMCV_WITH_OPS='1',
            MAX_JOBS=os.environ.get('MAX_JOBS') or '2')
        print(f'[mmcv_build] building mmcv {VERSION} for {key} (about 10 '
              f'minutes on 2 cores); log: {log}')
        code = _run(
            pip + [
                'wheel', '--no-deps', '--no-cache-dir', '--no-build-isolation',
                '-w', out, source
            ],
            log=log,
            env=env)
        wheel = cached_wheel(out)
        if code != 0 or wheel is None:
            with open(log) as f:
                tail = f.read().splitlines()[-15:]
            print('\n'.join(tail), file=sys.stderr)
            raise BuildError(f'mmcv {VERSION} did not compile against torch '
                             f"{info['torch']} (log: {log})")
        target = osp.join(cache, key)
        os.makedirs(target, exist_ok=True)
        final = osp.join(target, osp.basename(wheel))
        shutil.move(wheel, final + '.part')
        os.replace(final + '.part', final)  # no half-written wheel in cache
    return final


def ensure(cache=None, sdist=None):
    """Installs mmcv built for the installed torch; returns the action taken.

    ``sdist``: a source archive to build from instead of PyPI's.
    """
    cache = cache or cache_dir()
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    info = torch_info()
    key = build_key(info)
    action = plan(key, recorded_key(), cached_wheel(osp.join(cache, key)),
                  ops_import())
    if action == 'keep':
        return action
    wheel = cached_wheel(osp.join(cache, key))
    if wheel is None:
        sdist = sdist or fetch_sdist(osp.join(cache, 'src'), pip)
        wheel = build(info, key, sdist, cache, pip)
    else:
        print(f'[mmcv_build] installing mmcv {VERSION} built for {key}')
    # The build replaces any mmcv; then mmcv's own dependencies (opencv,
    # mmengine, ...) that are still missing, under the caller's
    # constraints (PIP_CONSTRAINT).
    if _run(pip +
            ['install', '-q', '--no-deps', '--force-reinstall', wheel]) != 0 \
            or _run(pip + ['install', '-q', wheel]) != 0:
        raise BuildError(f'pip could not install {wheel}')
    error = ops_import()
    if error:
        raise BuildError(f'mmcv {VERSION} built for {key} does not import: '
                         f'{error}')
    with open(osp.join(sys.prefix, RECORD), 'w') as f:
        f.write(key + '\n')
    return action


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ['key']:
        print(build_key(torch_info()))
    elif argv == ['stack']:
        import torch
        print(stack(torch.__version__))
    elif argv == ['ensure']:
        try:
            ensure()
        except BuildError as e:
            print(f'error: {e}', file=sys.stderr)
            return 1
    else:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
