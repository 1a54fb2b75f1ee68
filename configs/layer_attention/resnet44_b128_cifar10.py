# ResNet-44 (He et al.) baseline, CIFAR-10.
# Paper: Table 2, 0.667M params, 7.17% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=44, layer_attention=False))
