from .ablations import ABLATION_ARCHS, detect_ablation_layout, find_ablation
from .foreign import (ForeignCheckpointError, check_foreign_state_dict,
                      check_pretrained_prefix, describe_state_dict,
                      refuse_mostly_missing)
from .released import (RELEASED_CHECKPOINTS, ReleasedCheckpoint,
                       UnconvertedCheckpointError, check_checkpoint_file,
                       check_pretrained_file, check_unconverted,
                       conversion_command, find_released, read_state_dict,
                       refuse_unconverted_checkpoints, unconverted_message)
from .rlanet import (RLANetConversion, RLANetLayout, convert_rlanet,
                     convert_rlanet_meta, convert_rlanet_state_dict,
                     detect_rlanet_layout, find_rlanet_roots,
                     strip_module_prefix)

__all__ = [
    'ABLATION_ARCHS', 'ForeignCheckpointError', 'RELEASED_CHECKPOINTS',
    'RLANetConversion', 'RLANetLayout', 'ReleasedCheckpoint',
    'UnconvertedCheckpointError', 'check_checkpoint_file',
    'check_foreign_state_dict', 'check_pretrained_file',
    'check_pretrained_prefix', 'check_unconverted', 'describe_state_dict',
    'refuse_mostly_missing', 'conversion_command', 'convert_rlanet',
    'convert_rlanet_meta', 'convert_rlanet_state_dict',
    'detect_ablation_layout', 'detect_rlanet_layout', 'find_ablation',
    'find_released', 'find_rlanet_roots', 'read_state_dict',
    'refuse_unconverted_checkpoints', 'strip_module_prefix',
    'unconverted_message'
]
