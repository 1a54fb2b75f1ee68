from .build import build_model_without_weights, drop_pretrained_init
from .checkpoint import (CheckpointMismatch, check_checkpoint,
                         check_checkpoint_exists, checkpoint_mismatch,
                         load_checked_checkpoint)
from .cli import (build_runner, check_converted, check_data_paths,
                  check_pretrained_weights, find_configs, load_config,
                  parse_runner_args, set_launcher_and_work_dir)
from .errors import UserError, main_entry
from .markdown import markdown_table
from .model_check import (check_model_config, explain_build_error,
                          explained_build_errors)
from .own_data import match_dataset_classes, read_coco_categories
from .start_weights import check_start_weights

__all__ = [
    'CheckpointMismatch', 'UserError', 'build_model_without_weights',
    'build_runner', 'check_checkpoint', 'check_checkpoint_exists',
    'check_converted', 'check_data_paths', 'check_model_config',
    'check_pretrained_weights', 'check_start_weights', 'checkpoint_mismatch',
    'drop_pretrained_init', 'explain_build_error', 'explained_build_errors',
    'find_configs', 'load_checked_checkpoint', 'load_config', 'main_entry',
    'markdown_table', 'match_dataset_classes', 'parse_runner_args',
    'read_coco_categories', 'set_launcher_and_work_dir'
]
