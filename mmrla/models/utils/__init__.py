from .checks import check_choice, check_out_indices, check_positive_int
from .eca_layer import ECALayer
from .rla_cell import (UPDATE_POSITIONS, ConvGRUCell, ConvLSTMCell,
                       PostActRLACell, RLACell, build_rla_cell,
                       pool_hidden_state, rla_step)

__all__ = [
    'ECALayer', 'RLACell', 'PostActRLACell', 'ConvLSTMCell', 'ConvGRUCell',
    'UPDATE_POSITIONS', 'build_rla_cell', 'check_choice', 'check_out_indices',
    'check_positive_int', 'pool_hidden_state', 'rla_step'
]
