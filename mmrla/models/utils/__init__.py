# Re-exported from its new home until the backbones import it from there.
from mmrla.converters import check_pretrained_file
from .cpu_ops import fast_tanh_, hidden_state_layout
from .eca_layer import ECALayer
from .rla import check_out_indices, pool_hidden_state
from .split_ops import batch_norm_parts, derived_weights, splittable_batch_norm

__all__ = [
    'ECALayer', 'batch_norm_parts', 'check_out_indices',
    'check_pretrained_file', 'derived_weights', 'fast_tanh_',
    'hidden_state_layout', 'pool_hidden_state', 'splittable_batch_norm'
]
