# ResNet-44 (He et al.) baseline, CIFAR-100.
# Paper: Table 2, 0.667M params, 31.13% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=44, layer_attention=False))
