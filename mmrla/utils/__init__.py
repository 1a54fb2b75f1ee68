from .checkpoint import (CheckpointMismatch, check_checkpoint,
                         checkpoint_mismatch)
from .cli import (UserError, build_runner, check_converted, check_data_paths,
                  check_pretrained_weights, load_config)

__all__ = [
    'CheckpointMismatch', 'UserError', 'build_runner', 'check_checkpoint',
    'check_converted', 'check_data_paths', 'check_pretrained_weights',
    'checkpoint_mismatch', 'load_config'
]
