"""tools/analysis_tools/paper_tables.py: our parameters and FLOPs beside
both papers' tables, with the increments over the baselines; the CIFAR and
layer-attention table commands it replaces."""
import glob
import os.path as osp

import pytest

from mmrla.utils import load_config
from tests.fixtures.console import REPO
from tools.analysis_tools.cifar_params import main
from tools.analysis_tools.get_flops import count
from tools.analysis_tools.paper_tables import FAMILIES, HEADER
from tools.analysis_tools.paper_tables import main as tables_main

PAPER = FAMILIES['cifar'].rows

# The config names the CIFAR helpers agreed on (configs/cifar/).
AGREED = {
    f'{model}_b128_{data}'
    for model in ('r110', 'r110rla', 'r164', 'r164rla', 'xception',
                  'xceptionrla')
    for data in ('cifar10', 'cifar100')
} | {
    f'r164rla-{variant}_b128_cifar10'
    for variant in ('v2', 'v3', 'v4', 'v5', 'v6', 'unshared', 'no-exchange',
                    'convlstm', 'convgru', 'postact', 'k8', 'k16', 'k24')
} | {
    'r164-channel12_b128_cifar10', 'r164-dpn_b128_cifar10',
    'densenet-bc100_b128_cifar10', 'densenet-bc100-shared-lag_b128_cifar10',
    'densenet-bc100-shared-ordinal_b128_cifar10'
}


def test_paper_table_covers_exactly_the_agreed_names():
    assert set(PAPER) == AGREED


def test_every_cifar_config_has_a_paper_row():
    names = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(
            osp.join(REPO, 'configs', 'cifar', '**', '*.py'), recursive=True)
    }
    assert names <= set(PAPER), names - set(PAPER)


def test_paper_figures():
    # Table 2: the RLA rows are the baseline's counts plus RLA's additions.
    assert PAPER['r110rla_b128_cifar10'][1:5] == (1.80, 9.04, '5.88',
                                                  'r110_b128_cifar10')
    assert PAPER['xceptionrla_b128_cifar100'][1:4] == (2.81, 14.10, '24.00')
    assert PAPER['r164_b128_cifar100'][1:4] == (1.74, 8.67, '25.22')
    # Table 11, 13 and 1.
    assert PAPER['r164rla-unshared_b128_cifar10'][1:4] == (1.90, 8.74, '5.17')
    assert PAPER['r164rla-k24_b128_cifar10'][1:4] == (1.78, None, '5.14')
    assert PAPER['r164-dpn_b128_cifar10'][1:4] == (2.13, None, '5.99')
    assert PAPER['densenet-bc100-shared-lag_b128_cifar10'][1:5] == (
        0.60, None, '6.22', 'densenet-bc100_b128_cifar10')
    assert PAPER['r164rla-convgru_b128_cifar10'][1:4] == (None, None, None)


MODEL = ("model = dict(type='ImageClassifier', backbone=dict("
         "type='LayerAttentionResNet', depth={depth}), neck=dict("
         "type='GlobalAveragePooling'), head=dict(type='LinearClsHead', "
         "num_classes=10, in_channels=64))\n")


@pytest.fixture
def two_configs(tmp_path):
    """A baseline and its "RLA" config (mmrla's LA-ResNet-20 and -32 on
    the CIFAR-10 recipe), named like configs/cifar/'s."""
    base = osp.join(REPO, 'configs', '_base_', 'cifar10_bs128_300e.py')
    paths = {}
    for name, depth in (('r110', 20), ('r110rla', 32)):
        path = tmp_path / f'{name}_b128_cifar10.py'
        path.write_text(f'_base_ = [{base!r}]\n' + MODEL.format(depth=depth))
        paths[name] = str(path)
    return paths


def test_table_with_deltas_against_the_baseline(two_configs, tmp_path, capsys):
    assert main([two_configs['r110rla'], two_configs['r110']]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == '| ' + ' | '.join(HEADER) + ' |'
    ours = {k: count(load_config(p), (32, 32)) for k, p in two_configs.items()}
    base, rla = ours['r110'], ours['r110rla']
    # Baseline first (the paper's order); no delta for it.
    assert lines[2] == (f'| r110_b128_cifar10 | 2 | {base["params"]:,} '
                        f'({base["params"] / 1e6:.3f}M) | 1.73M | '
                        f'{base["flops"] / 1e6:.2f}M | 8.67M | - | - | 6.35 '
                        '| no: params, FLOPs |')
    d_params = (rla['params'] - base['params']) / 1e6
    d_flops = (rla['flops'] - base['flops']) / 1e6
    assert lines[3] == (
        f'| r110rla_b128_cifar10 | 2 | {rla["params"]:,} '
        f'({rla["params"] / 1e6:.3f}M) | 1.80M | '
        f'{rla["flops"] / 1e6:.2f}M | 9.04M | +{d_params:.3f}M / +0.07M | '
        f'+{d_flops:.2f}M / +0.37M | 5.88 | no: params, FLOPs |')
    # The baseline is found next to the config when not given.
    assert main([two_configs['r110rla']]) == 0
    assert capsys.readouterr().out.splitlines()[2] == lines[3]
    # Without it, no delta of ours.
    (tmp_path / 'r110_b128_cifar10.py').unlink()
    assert main([two_configs['r110rla'], '--config-dir', str(tmp_path)]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert '| - / +0.07M | - / +0.37M | 5.88 |' in row


def test_default_is_every_config_of_the_folder(two_configs, tmp_path, capsys):
    (tmp_path / 'ablations').mkdir()
    (tmp_path / 'ablations' / 'r164rla-k8_b128_cifar10.py').write_text(
        open(two_configs['r110']).read())
    assert main(['--config-dir', str(tmp_path)]) == 0
    rows = [
        line.split(' | ')[0][2:]
        for line in capsys.readouterr().out.splitlines()[2:5]
    ]
    assert rows == [
        'r110_b128_cifar10', 'r110rla_b128_cifar10', 'r164rla-k8_b128_cifar10'
    ]


def test_missing_config_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path / 'nope.py')]) == 2
    assert capsys.readouterr().err == \
        f'error: no such config: {tmp_path / "nope.py"}\n'
    assert main(['--config-dir', str(tmp_path)]) == 2
    assert capsys.readouterr().err == f'error: no config under {tmp_path}\n'
