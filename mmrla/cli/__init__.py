"""What the command-line tools share: config loading, options, the one-line
error report, and the checks of configs, models and data that run before
a runner starts. The checks of checkpoint files are :mod:`mmrla.weights`.
The models never import this package."""
from .build import build_model_without_weights, drop_pretrained_init
from .model_check import (check_model_config, explain_build_error,
                          explained_build_errors)
from .own_data import match_dataset_classes, read_coco_categories
from .runner import (build_runner, check_data_paths, find_configs, load_config,
                     main_entry, parse_runner_args, set_launcher_and_work_dir)

__all__ = [
    'build_model_without_weights', 'build_runner', 'check_data_paths',
    'check_model_config', 'drop_pretrained_init', 'explain_build_error',
    'explained_build_errors', 'find_configs', 'load_config', 'main_entry',
    'match_dataset_classes', 'parse_runner_args', 'read_coco_categories',
    'set_launcher_and_work_dir'
]
