from .rla_resnet import RLABasicBlock, RLABottleneck, RLAResNet

__all__ = ['RLAResNet', 'RLABottleneck', 'RLABasicBlock']
