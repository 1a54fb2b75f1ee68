import argparse
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmrla.cli import (build_runner, check_data_paths, load_config,
                       parse_runner_args, set_launcher_and_work_dir)
from mmrla.errors import UserError
from tests.fixtures.console import assert_line


@pytest.fixture
def configs(tmp_path):
    """A config folder: r50rla_4xb64_in1k.py and det/faster_rcnn.py."""
    (tmp_path / 'det').mkdir()
    (tmp_path /
     'r50rla_4xb64_in1k.py').write_text('model = dict(type="A", depth=50)\n')
    (tmp_path / 'det' / 'faster_rcnn.py').write_text('model = dict()\n')
    return tmp_path


def test_load_config_merges_options(configs):
    cfg = load_config(
        str(configs / 'r50rla_4xb64_in1k.py'), {'model.depth': 101})
    assert cfg.model.to_dict() == dict(type='A', depth=101)


@pytest.mark.parametrize(
    'typo,suggestion',
    [
        ('r50rla_4xb46_in1k.py', 'r50rla_4xb64_in1k.py'),
        ('faster_rnn.py', 'det/faster_rcnn.py'),  # found in subfolders
    ])
def test_missing_config_suggests_close_names(configs, typo, suggestion):
    with pytest.raises(UserError) as info:
        load_config(str(configs / typo))
    assert_line(
        str(info.value), f'Config file {configs / typo}', 'does not exist',
        f'Did you mean {suggestion}?')


def test_package_configs_load_with_options():
    cfg = load_config('mmpretrain::resnet/resnet50_8xb32_in1k.py',
                      {'model.backbone.depth': 101})
    assert cfg.model.backbone.type == 'ResNet'
    assert cfg.model.backbone.depth == 101
    assert cfg.default_scope == 'mmpretrain'
    with pytest.raises(UserError, match='Cannot find config mmpretrain::'):
        load_config('mmpretrain::resnet/resnet5_8xb32_in1k.py')


def test_missing_config_without_close_names(configs):
    with pytest.raises(UserError, match=r'does not exist\.$'):
        load_config(str(configs / 'mobilenet.py'))


def test_unparsable_config_names_the_error(configs):
    bad = configs / 'bad.py'
    bad.write_text('model = dict(\n')
    with pytest.raises(
            UserError, match=f'Cannot parse config {bad}: '
            'SyntaxError'):
        load_config(str(bad))


def _loader_cfg(loader='train', **dataset):
    return Config({f'{loader}_dataloader': dict(dataset=dataset)})


def test_existing_data_passes(tmp_path):
    (tmp_path / 'ann.json').write_text('{}')
    (tmp_path / 'images').mkdir()
    cfg = _loader_cfg(
        data_root=str(tmp_path),
        ann_file='ann.json',
        data_prefix=dict(img='images/'))
    check_data_paths(cfg, ('train', 'val', 'test'))  # absent loaders: skip


def test_missing_data_root_names_the_option(tmp_path):
    missing = str(tmp_path / 'coco')
    cfg = _loader_cfg('val', data_root=missing)
    with pytest.raises(UserError) as info:
        check_data_paths(cfg, ('val', ))
    assert_line(
        str(info.value), f'val dataset data_root "{missing}"',
        'does not exist', '--cfg-options val_dataloader.dataset.data_root=')


@pytest.mark.parametrize('dataset,key,path', [
    (dict(ann_file='ann.json'), 'ann_file', 'ann.json'),
    (dict(data_prefix=dict(img='train2017/')), 'data_prefix.img',
     'train2017/'),
    (dict(data_prefix='imgs'), 'data_prefix.img_path', 'imgs'),
    (dict(split='train'), 'split', 'train'),
])
def test_missing_files_under_the_root_are_named(tmp_path, dataset, key, path):
    cfg = _loader_cfg(data_root=str(tmp_path), **dataset)
    field = key.split('.')[0]
    with pytest.raises(UserError) as info:
        check_data_paths(cfg, ('train', ))
    message = str(info.value)
    assert f'train dataset {key} "{osp.join(tmp_path, path)}"' in message
    assert f'(and train_dataloader.dataset.{field} if it differs)' in message


@pytest.mark.parametrize('dataset_type,archive,folder,first', [
    ('CIFAR10', 'cifar-10-python.tar.gz', 'cifar-10-batches-py',
     'data_batch_1'),
    ('CIFAR10Split', 'cifar-10-python.tar.gz', 'cifar-10-batches-py',
     'data_batch_1'),
    ('CIFAR100Split', 'cifar-100-python.tar.gz', 'cifar-100-python', 'train'),
])
def test_missing_cifar_says_where_the_files_come_from(tmp_path, dataset_type,
                                                      archive, folder, first):
    import mmrla.datasets  # noqa: F401  (custom_imports of the configs)
    root = tmp_path / 'cifar'
    cfg = _loader_cfg('val', type=dataset_type, data_root=str(root))
    fix = (f'https://www.cs.toronto.edu/~kriz/{archive}', f'in {root}',
           f'{osp.join(root, folder, first)} exists',
           '--cfg-options val_dataloader.dataset.data_root=')
    with pytest.raises(UserError) as info:
        check_data_paths(cfg, ('val', ))
    assert_line(str(info.value), f'data_root "{root}" does not exist', *fix)
    # Unpacked elsewhere, or only in part: the first missing path is named.
    root.mkdir()
    with pytest.raises(UserError) as info:
        check_data_paths(cfg, ('val', ))
    assert str(info.value).startswith(
        f'The val dataset data_root "{root / folder}" does not exist. ')
    (root / folder).mkdir()
    with pytest.raises(UserError) as info:
        check_data_paths(cfg, ('val', ))
    assert_line(
        str(info.value), f'data_root "{root / folder / first}" does not exist',
        *fix)


def test_complete_cifar_passes(tmp_path):
    from mmrla.datasets.synthetic import write_cifar
    write_cifar(str(tmp_path), 5, 1, 'cifar100')
    cfg = _loader_cfg(type='CIFAR100', data_root=str(tmp_path))
    check_data_paths(cfg, ('train', ))


def test_dataset_wrappers_are_looked_through(tmp_path):
    inner = dict(data_root=str(tmp_path / 'missing'))
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    dataset=dict(
                        type='ConcatDataset',
                        datasets=[dict(data_root=str(tmp_path)), inner])))))
    with pytest.raises(UserError, match='missing'):
        check_data_paths(cfg, ('train', ))


def test_remote_paths_are_not_checked(tmp_path):
    cfg = _loader_cfg(data_root='s3://bucket/coco/', ann_file='ann.json')
    check_data_paths(cfg, ('train', ))


def test_missing_evaluator_annotations_are_named(tmp_path):
    cfg = Config(
        dict(
            test_dataloader=dict(dataset=dict(data_root=str(tmp_path))),
            test_evaluator=[
                dict(type='Accuracy'),
                dict(type='CocoMetric', ann_file=str(tmp_path / 'a.json'))
            ]))
    with pytest.raises(
            UserError,
            match=r'test evaluator\'s ann_file .* '
            r'--cfg-options test_evaluator\.ann_file='):
        check_data_paths(cfg, ('test', ))


def test_build_runner_explains_a_misspelled_type(tmp_path):
    import mmrla.models  # noqa: F401  (custom_imports of a config file)
    cfg = Config(
        dict(
            model=dict(type='RLAMobilenetV2'),
            work_dir=str(tmp_path),
            default_scope='mmpretrain',
            custom_imports=dict(imports=['mmrla.models'])))
    with pytest.raises(UserError) as info:
        build_runner(cfg, 'configs/x.py')
    # The closest registered name first (mmpretrain's MobileNets follow).
    assert str(info.value).startswith(
        'model.type = "RLAMobilenetV2" in configs/x.py is not in the '
        'mmpretrain::model registry. Did you mean "RLAMobileNetV2"')


def test_build_runner_passes_on_other_key_errors():
    # No work_dir: mmengine's own KeyError, not a registry's.
    with pytest.raises(KeyError, match='work_dir'):
        build_runner(Config(dict(model=dict(type='ResNet'))), 'x.py')


def _parser():
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--work-dir')
    return parser


def test_runner_args_parse_and_export_the_local_rank(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_runner_args(_parser(), [
        'configs/a.py', '--launcher', 'pytorch', '--local-rank', '3',
        '--cfg-options', 'train_cfg.max_epochs=1', 'model.init_cfg=None'
    ])
    assert args.launcher == 'pytorch' and os.environ['LOCAL_RANK'] == '3'
    assert args.cfg_options == {
        'train_cfg.max_epochs': 1,
        'model.init_cfg': None
    }
    # torchrun's LOCAL_RANK wins over the default of the option.
    monkeypatch.setenv('LOCAL_RANK', '1')
    assert parse_runner_args(_parser(), ['a.py']).launcher == 'none'
    assert os.environ['LOCAL_RANK'] == '1'
    with pytest.raises(SystemExit):
        parse_runner_args(_parser(), ['a.py', '--launcher', 'ssh'])


@pytest.mark.parametrize('option,in_config,expected', [
    ('cli_dir', 'cfg_dir', 'cli_dir'),
    (None, 'cfg_dir', 'cfg_dir'),
    (None, None, osp.join('./work_dirs', 'r50rla_4xb64_in1k')),
])
def test_work_dir_comes_from_option_config_or_name(option, in_config,
                                                   expected):
    cfg = Config(dict(work_dir=in_config))
    args = argparse.Namespace(
        config='configs/r50rla_4xb64_in1k.py',
        work_dir=option,
        launcher='pytorch')
    set_launcher_and_work_dir(cfg, args)
    assert cfg.work_dir == expected and cfg.launcher == 'pytorch'
