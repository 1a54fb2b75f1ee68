import pytest
from mmengine.config import Config

import mmrla.models  # noqa: F401  (custom_imports of the configs)
from mmrla.cli import check_model_config, explain_build_error, load_config
from mmrla.errors import UserError
from tests.fixtures.console import assert_line

DET = 'configs/faster_rcnn_r50rla_fpn_1x_coco.py'


def _error(config, options):
    with pytest.raises(UserError) as info:
        check_model_config(load_config(config, options), config)
    return str(info.value)


def test_a_valid_config_builds_its_model_without_weights():
    from mmengine.registry import DefaultScope
    cfg = load_config(DET)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = check_model_config(cfg, DET)
        # mmdet's scope served the build only (tools/train.py runs in tests'
        # processes too).
        assert DefaultScope.get_current_instance().scope_name == 'mmpretrain'
    assert type(model.backbone).__name__ == 'RLAResNet'
    # The config still names its ImageNet file; building did not need it.
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'


def test_misspelled_type_names_entry_registry_and_closest_types():
    key = 'model.roi_head.bbox_head.type'
    assert _error(DET, {
        key: 'Shared2FCBBoxHaed'
    }).startswith(
        f'{key} = "Shared2FCBBoxHaed" in {DET} is not in the mmdet::model '
        'registry. Did you mean "Shared2FCBBoxHead"')


def test_misspelled_argument_names_entry_and_closest_arguments():
    # mmdet's FPN, a class of another package, is explained the same way.
    assert _error(DET, {'model.neck.in_chanels': [256]}) == (
        f'model.neck.in_chanels in {DET}: FPN has no argument "in_chanels". '
        'Did you mean "in_channels", "out_channels"?')


def test_argument_refused_by_a_base_class_is_found_in_the_config():
    # LinearClsHead passes **kwargs to ClsHead, which refuses them.
    config = 'configs/r50rla_4xb64_in1k.py'
    assert _error(config, {
        'model.head.num_clases': 3
    }) == (f'model.head.num_clases in {config}: LinearClsHead has no argument '
           '"num_clases". Did you mean "num_classes"?')


def test_argument_far_from_every_name_lists_the_arguments():
    config = 'configs/mobilenetv2rla_2xb48_in1k.py'
    message = _error(config, {'model.backbone.xyz': 1})
    assert message.startswith(
        f'model.backbone.xyz in {config}: RLAMobileNetV2 has no argument '
        '"xyz". Its arguments are "widen_factor", "rla_channel", ')


def test_argument_of_a_type_no_registry_builds():
    # mmdet takes RoI layers from mmcv.ops by name.
    key = 'model.roi_head.bbox_roi_extractor.roi_layer.samplingratio'
    assert_line(
        _error(DET, {key: 0}), f'{key} in {DET}',
        'RoIAlign has no argument "samplingratio"', 'check its spelling')


def test_missing_required_argument_names_the_entry():
    cfg = Config(dict(model=dict(type='RLAResNet'), default_scope='mmdet'))
    with pytest.raises(UserError) as info:
        check_model_config(cfg, 'x.py')
    assert_line(
        str(info.value), 'model in x.py',
        'RLAResNet needs the argument "depth"', '--cfg-options model.depth=')


def test_a_refused_value_is_one_line_too():
    # The classes' own message, e.g. RLAResNet's cell check.
    message = _error(DET, {'model.backbone.cell_cfg': dict(type='RLACel')})
    assert message.startswith(
        f"The model of {DET} cannot be built: Unknown RLA cell type 'RLACel'")
    cfg = Config(dict(model=dict(type='RLAResNet', depth=19)))
    with pytest.raises(UserError, match='x.py cannot be built: Invalid depth'):
        check_model_config(cfg, 'x.py')


def test_other_errors_pass_unchanged():
    cfg = Config(dict(model=dict(type='RLAResNet', depth=18)))
    assert explain_build_error(TypeError('unsupported operand'), cfg,
                               'x.py') is None
    assert explain_build_error(KeyError('depth'), cfg, 'x.py') is None
