from .build import build_model_without_weights, drop_pretrained_init
from .cli import (UserError, build_runner, check_data_paths,
                  check_pretrained_weights, load_config, parse_runner_args,
                  set_launcher_and_work_dir)

__all__ = [
    'UserError', 'build_model_without_weights', 'build_runner',
    'check_data_paths', 'check_pretrained_weights', 'drop_pretrained_init',
    'load_config', 'parse_runner_args', 'set_launcher_and_work_dir'
]
