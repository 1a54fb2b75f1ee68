from .ablations import ABLATION_ARCHS, detect_ablation_layout, find_ablation
from .rlanet import (convert_rlanet_state_dict, detect_rlanet_family,
                     strip_module_prefix)

__all__ = [
    'ABLATION_ARCHS', 'convert_rlanet_state_dict', 'detect_ablation_layout',
    'detect_rlanet_family', 'find_ablation', 'strip_module_prefix'
]
