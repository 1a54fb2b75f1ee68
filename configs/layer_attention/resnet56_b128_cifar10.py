# ResNet-56 (He et al.) baseline, CIFAR-10.
# Paper: Table 2, 0.858M params, 6.97% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, layer_attention=False))
