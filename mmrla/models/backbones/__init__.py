from .resnet_extra_channels import ResNetExtraChannels
from .rla_mobilenet_v2 import RLAInvertedResidual, RLAMobileNetV2
from .rla_resnet import RLABasicBlock, RLABottleneck, RLAResNet

__all__ = [
    'RLAResNet', 'RLABottleneck', 'RLABasicBlock', 'RLAMobileNetV2',
    'RLAInvertedResidual', 'ResNetExtraChannels'
]
