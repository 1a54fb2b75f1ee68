from .ablations import ABLATION_ARCHS, detect_ablation_layout, find_ablation
from .released import (CONVERTER, RELEASED_CHECKPOINTS, ReleasedCheckpoint,
                       UnconvertedCheckpointError, check_unconverted,
                       conversion_command, find_released, unconverted_message)
from .rlanet import (RLANetConversion, RLANetLayout, convert_rlanet,
                     convert_rlanet_meta, convert_rlanet_state_dict,
                     detect_rlanet_layout, find_rlanet_roots,
                     strip_module_prefix)

__all__ = [
    'ABLATION_ARCHS', 'CONVERTER', 'RELEASED_CHECKPOINTS', 'RLANetConversion',
    'RLANetLayout', 'ReleasedCheckpoint', 'UnconvertedCheckpointError',
    'check_unconverted', 'conversion_command', 'convert_rlanet',
    'convert_rlanet_meta', 'convert_rlanet_state_dict',
    'detect_ablation_layout', 'detect_rlanet_layout', 'find_ablation',
    'find_released', 'find_rlanet_roots', 'strip_module_prefix',
    'unconverted_message'
]
