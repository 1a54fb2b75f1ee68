"""Every shell script of tools/ and demo/ answers -h/--help with its usage,
and the launchers refuse too few arguments with it, starting nothing.

The scripts run from a copy of tools/ and demo/ in which ``python``,
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
    'setup_env.sh': ['PYTHON', 'VENV', 'TORCH_SPEC', 'FORCE_CUDA'],
}


@pytest.fixture
def sandbox(tmp_path):
    """``run(script, *args) -> (process, started programs)``."""
    repo = tmp_path / 'repo'
    for folder in FOLDERS:
        (repo / folder).mkdir(parents=True)
    for path in SCRIPTS:
        shutil.copy(osp.join(REPO, path), repo / path)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'started.txt'
    for program in ('python', 'python3', 'python3.11', 'srun'):
        fake = bin_dir / program
        fake.write_text(f'#!/bin/sh\necho "{program} $*" >> "{log}"\n')
        fake.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
        PYTHON=str(bin_dir / 'python'))
    env.pop('VENV', None)

    def run(path, *args):
        if log.exists():
            log.unlink()
        proc = subprocess.run(['bash', str(repo / path), *args],
                              cwd=repo,
                              env=env,
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
