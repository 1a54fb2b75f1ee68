from .eca_layer import ECALayer
from .rla import pool_hidden_state

__all__ = ['ECALayer', 'pool_hidden_state']
