import pytest
import torch

from tools.analysis_tools.tanh_vs_sigmoid import main


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_prints_the_ratio_and_the_error_of_the_sigmoid_form(
        keep_threads, capsys):
    assert main(['--shape', '4', '64', '--threads', '1', '--number', '3']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        'tensor (4, 64), float32, 1 threads, best of 5 x 3 calls')
    ratio = next(line for line in lines if line.startswith('tanh / sigmoid'))
    assert float(ratio.split(': ')[1].rstrip('x')) > 0
    error = float(lines[-1].split(': ')[1])
    assert 0 <= error < 1e-6


def test_refuses_non_positive_settings(capsys):
    assert main(['--shape', '0', '4']) == 2
    assert 'must be positive' in capsys.readouterr().err
