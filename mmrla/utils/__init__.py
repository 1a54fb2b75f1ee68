from .cli import (UserError, build_runner, check_data_paths,
                  check_pretrained_weights, load_config)

__all__ = [
    'UserError', 'build_runner', 'check_data_paths',
    'check_pretrained_weights', 'load_config'
]
