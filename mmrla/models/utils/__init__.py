from .checks import (check_choice, check_images, check_out_indices,
                     check_positive_int)
from .concat_conv import conv_over_concat, depthwise_over_concat
from .eca_layer import ECALayer
from .hidden_state import hidden_state_layout, pool_hidden_state
from .rla_cell import (UPDATE_POSITIONS, ConvGRUCell, ConvLSTMCell,
                       PostActRLACell, RLACell, build_rla_cell, rla_step)

__all__ = [
    'ECALayer', 'RLACell', 'PostActRLACell', 'ConvLSTMCell', 'ConvGRUCell',
    'UPDATE_POSITIONS', 'build_rla_cell', 'check_choice', 'check_images',
    'check_out_indices', 'check_positive_int', 'conv_over_concat',
    'depthwise_over_concat', 'hidden_state_layout', 'pool_hidden_state',
    'rla_step'
]
