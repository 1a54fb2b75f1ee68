"""A misspelled argument anywhere in a config's runner parts gets one line
with "Did you mean", before the runner logs anything (as a misspelled
backbone argument does)."""
import pytest
from mmengine.config import Config

from mmrla.cli.config_check import check_config_arguments
from mmrla.errors import UserError
from tests.fixtures.console import REPO, assert_line, screen

CIFAR = f'{REPO}/configs/cifar/r110rla_b128_cifar10.py'
DET = f'{REPO}/configs/faster_rcnn_r50rla_fpn_1x_coco.py'


@pytest.mark.parametrize(
    'config, option, expected',
    [(CIFAR, 'train_cfg.max_epoch=1', 'train_cfg.max_epoch in {}: '
      'EpochBasedTrainLoop has no argument "max_epoch". Did you mean '
      '"max_epochs"'),
     (CIFAR, 'optim_wrapper.optimizer.lrr=0.1', 'optim_wrapper.optimizer.lrr '
      'in {}: SGD has no argument "lrr". Did you mean "lr"?'),
     (CIFAR, 'train_dataloader.dataset.num_vals=4',
      'train_dataloader.dataset.num_vals in {}: CIFAR10Split has no '
      'argument "num_vals". Did you mean "num_val"?'),
     (CIFAR, 'train_dataloader.batch_szie=4', 'train_dataloader.batch_szie '
      'in {}: a dataloader has no setting "batch_szie". Did you mean '
      '"batch_size"?'),
     (CIFAR, 'default_hooks.checkpoint.intervl=1',
      'default_hooks.checkpoint.intervl in {}: CheckpointHook has no '
      'argument "intervl". Did you mean "interval"?'),
     (CIFAR, 'val_evaluator.topk=(1,)', None),
     (CIFAR, 'val_evaluator.tpok=(1,)', 'val_evaluator.tpok in {}: Accuracy '
      'has no argument "tpok". Did you mean "topk"?'),
     (DET, 'val_evaluator.metrc=bbox', 'val_evaluator.metrc in {}: '
      'CocoMetric has no argument "metrc". Did you mean "metric"?'),
     (DET, 'param_scheduler.1.milestone=[8,11]', 'param_scheduler.1.milestone '
      'in {}: MultiStepLR has no argument "milestone". Did you mean '
      '"milestones"?'),
     (DET, 'default_hooks.visualization.type=DetVisualisationHook',
      'default_hooks.visualization.type = "DetVisualisationHook" in {} is '
      'not in the mmdet::hook registry. Did you mean "DetVisualizationHook"')])
def test_misspelled_arguments_are_named_with_the_closest(
        config, option, expected):
    key, value = option.split('=')
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({key: eval(value) if value[0] in '([' else value})
    if expected is None:
        check_config_arguments(cfg, config)
        return
    with pytest.raises(UserError) as error:
        check_config_arguments(cfg, config)
    assert str(error.value).startswith(expected.format(config))


@pytest.mark.slow  # loads every config (minutes on a busy CPU)
def test_every_config_of_the_repo_passes():
    import glob
    for path in sorted(glob.glob(f'{REPO}/configs/**/*.py', recursive=True)):
        if '/_base_/' not in path:
            check_config_arguments(Config.fromfile(path), path)


def test_train_tool_prints_the_one_line_before_anything(tmp_path, capsys):
    from tools.train import main
    assert main([
        CIFAR, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options', 'train_cfg.max_epoch=1'
    ]) == 2
    out = capsys.readouterr()
    assert out.out == ''
    lines = screen(out.err)
    assert len(lines) == 1
    assert_line(lines[0], f'error: train_cfg.max_epoch in {CIFAR}',
                'EpochBasedTrainLoop has no argument "max_epoch"',
                'Did you mean "max_epochs"')
