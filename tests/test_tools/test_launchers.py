"""Every shell script of tools/ and demo/ answers -h/--help with its usage,
and the launchers refuse too few arguments with it, starting nothing.

The scripts run from a copy of tools/ and demo/ (with tools/lib/, which
the launchers source) in which ``python``,
``python3.11`` and ``srun`` are stand-ins that only record that they were
started (so a script that ignored --help would not set up a venv or launch a
job).
"""
import glob
import os
import os.path as osp
import shutil
import subprocess

import pytest

from tests.fixtures.console import REPO

FOLDERS = ('tools', 'demo')
# Paths relative to the repository, e.g. 'tools/dist_train.sh'.
SCRIPTS = sorted(
    osp.relpath(p, REPO) for folder in FOLDERS
    for p in glob.glob(osp.join(REPO, folder, '*.sh')))
# The positional arguments of each launcher; the other scripts take none.
REQUIRED = {
    'dist_train.sh': ['cfg.py', '2'],
    'dist_test.sh': ['cfg.py', 'epoch_1.pth', '2'],
    'slurm_train.sh': ['gpu', 'job', 'cfg.py', 'work_dir'],
    'slurm_test.sh': ['gpu', 'job', 'cfg.py', 'epoch_1.pth'],
}
NO_ARGUMENTS = {'quick_start.sh', 'run_tests.sh', 'setup_env.sh'}
# What the usage of each launcher must mention.
ENVIRONMENT = {
    'dist_train.sh': ['NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT'],
    'dist_test.sh': ['NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT'],
    'slurm_train.sh': ['GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS'],
    'slurm_test.sh': ['GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS'],
    'setup_env.sh':
    ['PYTHON', 'VENV', 'TORCH_SPEC', 'FORCE_CUDA', 'MAX_JOBS', 'MMCV_CACHE'],
    'run_tests.sh': ['MMRLA_STACKS', 'CURRENT_PYTHON', 'CURRENT_TORCH_SPEC'],
}


def _stand_in(path, name, log):
    """A program that records ``name`` and its arguments in ``log``."""
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
    path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path):
    """``run(script, *args) -> (process, started programs)``."""
    repo = tmp_path / 'repo'
    for folder in FOLDERS:
        (repo / folder).mkdir(parents=True)
    for path in SCRIPTS:
        shutil.copy(osp.join(REPO, path), repo / path)
    shutil.copytree(osp.join(REPO, 'tools', 'lib'), repo / 'tools' / 'lib')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'started.txt'
    for program in ('python', 'python3', 'python3.11', 'srun'):
        _stand_in(bin_dir / program, program, log)
    env = dict(
        os.environ,
        PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
        PYTHON=str(bin_dir / 'python'))
    env.pop('VENV', None)
    env.pop('VIRTUAL_ENV', None)

    def run(path, *args, **variables):
        """``path`` relative to the repository; ``variables``: environment
        changes, None unsets one."""
        if log.exists():
            log.unlink()
        run_env = dict(env)
        for key, value in variables.items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = value
        proc = subprocess.run(['bash', str(repo / path), *args],
                              cwd=repo,
                              env=run_env,
                              capture_output=True,
                              text=True,
                              timeout=30)
        started = log.read_text().splitlines() if log.exists() else []
        return proc, started

    return run


def test_every_script_is_classified():
    names = sorted(osp.basename(p) for p in SCRIPTS)
    assert names == sorted(set(REQUIRED) | NO_ARGUMENTS)


@pytest.mark.parametrize('flag', ['--help', '-h'])
@pytest.mark.parametrize('path', SCRIPTS)
def test_help_prints_the_usage_and_starts_nothing(sandbox, path, flag):
    proc, started = sandbox(path, flag)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f'Usage: bash {path}')
    for variable in ENVIRONMENT.get(osp.basename(path), []):
        assert variable in proc.stdout
    assert started == [] and proc.stderr == ''


@pytest.mark.parametrize('name', sorted(REQUIRED))
def test_too_few_arguments_print_the_usage_and_start_nothing(sandbox, name):
    for given in range(len(REQUIRED[name])):
        proc, started = sandbox(f'tools/{name}', *REQUIRED[name][:given])
        assert proc.returncode == 2
        assert proc.stderr.startswith(f'error: {name} needs ')
        assert f'Usage: bash tools/{name}' in proc.stderr
        assert started == [] and proc.stdout == ''


@pytest.mark.parametrize('name', ['dist_train.sh', 'dist_test.sh'])
def test_dist_launchers_want_a_number_of_processes(sandbox, name):
    args = REQUIRED[name][:-1] + ['--resume']
    proc, started = sandbox(f'tools/{name}', *args)
    assert proc.returncode == 2 and 'a positive integer' in proc.stderr
    assert started == []


def test_complete_arguments_start_the_job(sandbox):
    # The stand-ins do see a launch, and the arguments pass through.
    _, started = sandbox('tools/dist_train.sh', 'cfg.py', '2', '--resume')
    assert len(started) == 1 and started[0].startswith(
        'python -m torch.distributed.run ')
    assert '--nproc_per_node=2' in started[0]
    assert started[0].endswith('cfg.py --launcher pytorch --resume')
    _, started = sandbox('tools/slurm_test.sh', 'gpu', 'job', 'cfg.py',
                         'epoch_1.pth', '--out', 'r.pkl')
    assert len(started) == 1 and started[0].startswith('srun -p gpu ')
    assert started[0].endswith(
        'cfg.py epoch_1.pth --launcher=slurm --out r.pkl')


LAUNCHES = REQUIRED


def _python_of(started):
    """The interpreter a launch started: first word, or srun's program."""
    words = started[0].split()
    if words[0] == 'srun':
        return next(
            w for w in words
            if not w.startswith('-') and w not in ('srun',
                                                   'gpu') and '=' not in w)
    return words[0]


@pytest.mark.parametrize('name', sorted(LAUNCHES))
def test_launchers_use_the_repository_venv_from_a_fresh_shell(
        sandbox, tmp_path, name):
    venv_python = tmp_path / 'repo' / '.venv' / 'bin' / 'python'
    venv_python.parent.mkdir(parents=True)
    _stand_in(venv_python, 'venv-python', tmp_path / 'started.txt')
    # Nothing chosen, nothing activated: the repository's .venv.
    _, started = sandbox(f'tools/{name}', *LAUNCHES[name], PYTHON=None)
    assert len(started) == 1
    if name.startswith('slurm'):
        # srun runs the program on the nodes: it gets the venv's path.
        assert f'{venv_python} -u ' in started[0]
    else:
        assert _python_of(started) == 'venv-python'
    # PYTHON, or an activated virtual environment, is a choice it keeps.
    other = tmp_path / 'bin' / 'python3.11'
    _, started = sandbox(f'tools/{name}', *LAUNCHES[name], PYTHON=str(other))
    assert (f'{other} -u ' in started[0]) if name.startswith('slurm') \
        else _python_of(started) == 'python3.11'
    _, started = sandbox(
        f'tools/{name}', *LAUNCHES[name], PYTHON=None, VIRTUAL_ENV='/opt/env')
    assert ' python -u ' in started[0] if name.startswith('slurm') \
        else _python_of(started) == 'python'


@pytest.mark.parametrize('name', sorted(LAUNCHES))
def test_launchers_without_a_venv_use_python_from_the_path(sandbox, name):
    _, started = sandbox(f'tools/{name}', *LAUNCHES[name], PYTHON=None)
    assert len(started) == 1
    assert ' python -u ' in started[0] if name.startswith('slurm') \
        else _python_of(started) == 'python'


@pytest.mark.slow
@pytest.mark.skipif(
    not osp.isfile(osp.join(REPO, '.venv', 'bin', 'python')),
    reason='needs the .venv of tools/setup_env.sh')
def test_dist_train_from_a_fresh_shell_after_set_up(tmp_path):
    """``dist_train.sh CONFIG 2`` with nothing activated and no PYTHON: a
    bare environment whose PATH has no Python with torch."""
    from mmrla.datasets.synthetic.cifar_shapes import write_image_folders
    from tests.fixtures.distributed import free_port
    root = write_image_folders(str(tmp_path / 'data'), 8, 4, 4)
    with open(
            osp.join(REPO, 'configs', 'own_data',
                     'r110rla_b128_own_cifar_folder.py')) as f:
        text = f.read()
    config = tmp_path / 'cifar_folder.py'
    base = osp.join(REPO, 'configs', 'cifar', 'r110rla_b128_cifar10.py')
    config.write_text(
        text.replace("'../cifar/r110rla_b128_cifar10.py'",
                     repr(base)).replace("data_root = 'data/own_cifar'",
                                         f'data_root = {root!r}'))
    options = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=2']
    for split in ('train', 'val', 'test'):
        options += [
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False'
        ]
    env = {
        'PATH': '/usr/bin:/bin',
        'HOME': os.environ.get('HOME', '/tmp'),
        'PORT': str(free_port()),
        'OMP_NUM_THREADS': '1',
        'CUDA_VISIBLE_DEVICES': ''
    }
    proc = subprocess.run([
        'bash',
        osp.join(REPO, 'tools', 'dist_train.sh'),
        str(config), '2', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *options
    ],
                          cwd=str(tmp_path),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
