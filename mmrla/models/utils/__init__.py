from .eca_layer import ECALayer
from .rla import check_pretrained_file, pool_hidden_state

__all__ = ['ECALayer', 'check_pretrained_file', 'pool_hidden_state']
