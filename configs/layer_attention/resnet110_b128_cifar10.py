# ResNet-110 (He et al.) baseline, CIFAR-10.
# Paper: Table 2, 1.735M params, 6.61% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=110, layer_attention=False))
