from .dual_path_preact_resnet import (DualPathPreActBottleneck,
                                      DualPathPreActResNet)
from .eca_resnet import ECABottleneck, ECAResNet
from .layer_aggregation_densenet import LayerAggregationDenseNet
from .layer_attention_resnet import (LABasicBlock, LABottleneck,
                                     LayerAttentionHead, LayerAttentionResNet)
from .resnet_extra_channels import ResNetExtraChannels
from .rla_mobilenet_v2 import RLAInvertedResidual, RLAMobileNetV2
from .rla_preact_resnet import RLAPreActResNet
from .rla_resnet import RLABasicBlock, RLABottleneck, RLAResNet
from .rla_xception import RLAXception, XceptionBlock

__all__ = [
    'LayerAttentionResNet', 'LayerAttentionHead', 'LABasicBlock',
    'LABottleneck', 'RLAResNet', 'RLABottleneck', 'RLABasicBlock',
    'RLAMobileNetV2', 'RLAInvertedResidual', 'ResNetExtraChannels',
    'RLAPreActResNet', 'RLAXception', 'XceptionBlock',
    'LayerAggregationDenseNet', 'ECAResNet', 'ECABottleneck',
    'DualPathPreActResNet', 'DualPathPreActBottleneck'
]
