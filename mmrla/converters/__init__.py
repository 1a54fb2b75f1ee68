from .rlanet import convert_rlanet_state_dict, detect_rlanet_family

__all__ = ['convert_rlanet_state_dict', 'detect_rlanet_family']
