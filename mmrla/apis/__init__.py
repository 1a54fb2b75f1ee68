from .model_index import (load_models, model_config_path, model_index_root,
                          register_models)

__all__ = [
    'load_models', 'model_config_path', 'model_index_root', 'register_models'
]
