from .cli import UserError, check_data_paths, load_config

__all__ = ['UserError', 'check_data_paths', 'load_config']
