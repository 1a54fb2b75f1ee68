"""tools/analysis_tools/paper_tables.py: our parameters and FLOPs beside
both papers' tables, with the increments over the baselines."""
import glob
import os.path as osp

import pytest
import torch

from mmrla.cli import load_config
from tests.fixtures.console import REPO, assert_line
from tools.analysis_tools.get_flops import count
from tools.analysis_tools.paper_tables import FAMILIES, HEADER
from tools.analysis_tools.paper_tables import main as tables_main

PAPER = FAMILIES['cifar'].rows
CIFAR = ['--family', 'cifar']

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
    configs = [two_configs['r110rla'], two_configs['r110']]
    assert tables_main(configs + CIFAR) == 0
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
    assert tables_main([two_configs['r110rla']] + CIFAR) == 0
    assert capsys.readouterr().out.splitlines()[2] == lines[3]
    # Without it, no delta of ours.
    (tmp_path / 'r110_b128_cifar10.py').unlink()
    assert tables_main([two_configs['r110rla'], '--config-dir',
                        str(tmp_path)] + CIFAR) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert '| - / +0.07M | - / +0.37M | 5.88 |' in row


def test_default_is_every_config_of_the_folder(two_configs, tmp_path, capsys):
    (tmp_path / 'ablations').mkdir()
    (tmp_path / 'ablations' / 'r164rla-k8_b128_cifar10.py').write_text(
        open(two_configs['r110']).read())
    assert tables_main(['--config-dir', str(tmp_path)] + CIFAR) == 0
    rows = [
        line.split(' | ')[0][2:]
        for line in capsys.readouterr().out.splitlines()[2:5]
    ]
    assert rows == [
        'r110_b128_cifar10', 'r110rla_b128_cifar10', 'r164rla-k8_b128_cifar10'
    ]


def test_missing_config_is_an_error(tmp_path, capsys):
    assert tables_main([str(tmp_path / 'nope.py')] + CIFAR) == 2
    assert_line(capsys.readouterr().err, 'error: no such config',
                str(tmp_path / 'nope.py'))
    assert tables_main(['--config-dir', str(tmp_path)] + CIFAR) == 2
    assert_line(capsys.readouterr().err, 'error: no config under',
                str(tmp_path))


def _cells(line):
    return [c.strip() for c in line.strip('|').split('|')]


def test_families_cover_the_papers_tables():
    imagenet = FAMILIES['imagenet'].rows
    tables = [r.table for r in imagenet.values()]
    # Table 3: 6 + 6 + 5 ResNet rows (no CBAM-152), 5 MobileNetV2 rows;
    # Table 11's 11 ImageNet ablations; Table 15's R101 unshared.
    assert sum('3' in t.split(', ') for t in tables) == 22
    assert sum('11' in t for t in tables) == 11
    assert sum('15' in t for t in tables) == 4
    la = FAMILIES['layer-attention'].rows
    assert sum(r.table == '2' for r in la.values()) == 30 + 9 + 4
    assert sum(r.table == '1' for r in la.values()) == 10
    assert sum(r.table == '3' for r in la.values()) == 16
    # Every model of the rows is a config of the repository (or a package
    # config); the rest are the models mmrla does not build.
    for family in FAMILIES.values():
        for name, row in family.rows.items():
            if row.config and '::' not in row.config:
                assert osp.isfile(osp.join(REPO, row.config)), name
            elif row.config is None and family.name != 'imagenet':
                assert glob.glob(
                    osp.join(family.config_dir, '**', name + '.py'),
                    recursive=True), name
    assert [n for n, r in imagenet.items() if r.config is None] == [
        'cbam-resnet50', 'cbam-resnet101', 'se-mobilenetv2', 'eca-mobilenetv2'
    ]


def test_mobilenet_v2_rows_of_table3():
    from tools.analysis_tools.paper_tables import table_rows
    family = FAMILIES['imagenet']
    names = [n for n in family.rows if 'mobilenet' in n]
    rows = {r[0]: r for r in table_rows(family, names, {})}
    base, rla = rows['mobilenet-v2_8xb32_in1k'], rows[
        'mobilenetv2rla_2xb48_in1k']
    assert base[2:6] == ['3,504,872 (3.34M)', '3.34M', '299.6M', '299.6M']
    # The plain form counts the first step over the zero state: 351.8M.
    assert rla[2:6] == ['3,624,168 (3.46M)', '3.46M', '351.8M', '351.8M']
    assert rla[-1] == 'yes'
    assert rows['se-mobilenetv2'][2:6] == [
        'not in mmrla', '3.51M', '-', '300.3M'
    ]
    eca = rows['mobilenetv2rlaeca_2xb48_in1k']
    assert eca[4:6] == ['352.3M', '352.4M']
    assert eca[-1].startswith('no: FLOPs (0.1M (0.03%) below')


@pytest.mark.slow
def test_resnet50_eca_rows_of_table3(capsys):
    # ECA's pooling counts as thop counts the authors' AdaptiveAvgPool2d:
    # 4.18G with RLA, as printed; plain ECA-ResNet-50 is ResNet-50's 3.83G.
    assert tables_main([
        osp.join(REPO, 'configs', f'r50{n}_4xb64_in1k.py')
        for n in ('eca', 'rlaeca')
    ]) == 0
    lines = capsys.readouterr().out.splitlines()
    eca, rlaeca = _cells(lines[2]), _cells(lines[3])
    assert eca[:6] == [
        'r50eca_4xb64_in1k', '3', '25,557,118 (24.37M)', '24.37M', '3.83G',
        '3.83G'
    ]
    assert rlaeca[4:6] == ['4.18G', '4.18G'] and rlaeca[-1] == 'yes'


def test_se_resnet_rows_differ_by_mmpretrains_se_biases():
    from mmpretrain.models import SEResNet
    biases = sum(m.bias.numel() for m in SEResNet(depth=50).modules()
                 if isinstance(m, torch.nn.Conv2d) and m.bias is not None)
    assert biases == 16_048
    assert round((28_088_024 - biases) / 2**20, 2) == 26.77


def test_layer_attention_family(capsys):
    names = ('la-resnet56_b128_cifar10', 'se-resnet20_b128_cifar100',
             'se-resnet18_4xb64_in1k')
    assert tables_main([
        osp.join(REPO, 'configs', 'layer_attention', n + '.py') for n in names
    ] + ['--family', 'layer-attention']) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == '| ' + ' | '.join(HEADER) + ' |'
    rows = {c[0]: c for c in map(_cells, lines[2:5])}
    assert rows['la-resnet56_b128_cifar10'][2:4] == [
        '857,053 (0.857M)', '0.859M'
    ]
    assert rows['la-resnet56_b128_cifar10'][8] == '6.40'
    assert rows['se-resnet20_b128_cifar100'][2:4] == [
        '280,697 (0.281M)', '0.278M'
    ]
    # Table 2's SE-18, printed "1.178M" in a column of 10^7 units.
    assert rows['se-resnet18_4xb64_in1k'][2:4] == [
        '11,778,592 (11.779M)', '11.78M'
    ]
    assert rows['se-resnet18_4xb64_in1k'][-1] == 'yes'
    assert 'parameters only' in out and 'truncated' in out
