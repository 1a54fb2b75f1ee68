# SE-ResNet-44 baseline (SE ratio 16 in every block), CIFAR-100.
# Paper: Table 2, 0.672M params, 29.54% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=44, layer_attention=False, se_ratio=16))
