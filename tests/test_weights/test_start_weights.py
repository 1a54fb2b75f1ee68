"""tools/train.py reads the files a run starts from (--resume, load_from,
the backbone's init_cfg) first: a damaged file, or a file of another model,
stops it with one line before the runner logs anything."""
import pytest
import torch
import torchvision

from tests.fixtures.console import REPO, screen

CONFIG = f'{REPO}/configs/cifar/r110rla_b128_cifar10.py'


@pytest.fixture(scope='module')
def torchvision_file(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('tv') / 'resnet18.pth')
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def _train(tmp_path, capsys, *args):
    from tools.train import main
    code = main([CONFIG, '--work-dir', str(tmp_path / 'work'), *args])
    out = capsys.readouterr()
    assert code == 2 and out.out == ''
    lines = screen(out.err)
    assert len(lines) == 1, out.err
    assert not (tmp_path / 'work').exists()  # no runner started
    return lines[0]


def test_load_from_of_another_model(tmp_path, capsys, torchvision_file):
    line = _train(tmp_path, capsys, '--cfg-options',
                  f'load_from={torchvision_file}')
    assert line.startswith(f'error: {torchvision_file} (load_from) would set '
                           'only 0 of the ')
    assert 'it is a torchvision ResNet-18 classification file' in line
    assert line.endswith('--cfg-options load_from=None.')


def test_backbone_init_cfg_of_another_model(tmp_path, capsys,
                                            torchvision_file):
    line = _train(tmp_path, capsys, '--cfg-options',
                  'model.backbone.init_cfg.type=Pretrained',
                  f'model.backbone.init_cfg.checkpoint={torchvision_file}',
                  'model.backbone.init_cfg.prefix=backbone')
    assert f'{torchvision_file} (model.backbone.init_cfg) would set only 0' \
        in line
    assert 'torchvision ResNet-18 classification file' in line
    assert 'model.backbone.init_cfg=None' in line


@pytest.mark.parametrize('content', [b'', b'not a checkpoint', b'PK\x03\x04'])
def test_damaged_resume_file(tmp_path, capsys, content):
    damaged = tmp_path / 'epoch_3.pth'
    damaged.write_bytes(content)
    line = _train(tmp_path, capsys, '--resume', str(damaged))
    assert line.startswith(f'error: Cannot load {damaged} as a PyTorch '
                           'checkpoint (')
    assert 'it is incomplete' in line and "this run's --resume" in line
