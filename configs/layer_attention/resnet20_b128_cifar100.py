# ResNet-20 (He et al.) baseline, CIFAR-100.
# Paper: Table 2, 0.275M params, 32.21% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=20, layer_attention=False))
