from .build import build_model_without_weights, drop_pretrained_init
from .checkpoint import (CheckpointMismatch, check_checkpoint,
                         checkpoint_mismatch)
from .cli import (UserError, build_runner, check_converted, check_data_paths,
                  check_pretrained_weights, load_config, parse_runner_args,
                  set_launcher_and_work_dir)

__all__ = [
    'CheckpointMismatch', 'UserError', 'build_model_without_weights',
    'build_runner', 'check_checkpoint', 'check_converted', 'check_data_paths',
    'check_pretrained_weights', 'checkpoint_mismatch', 'drop_pretrained_init',
    'load_config', 'parse_runner_args', 'set_launcher_and_work_dir'
]
