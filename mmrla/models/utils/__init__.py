from .eca_layer import ECALayer
from .rla import check_out_indices, check_pretrained_file, pool_hidden_state

__all__ = [
    'ECALayer', 'check_out_indices', 'check_pretrained_file',
    'pool_hidden_state'
]
