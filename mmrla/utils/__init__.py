from .cli import (UserError, check_data_paths, check_pretrained_weights,
                  load_config)

__all__ = [
    'UserError', 'check_data_paths', 'check_pretrained_weights', 'load_config'
]
