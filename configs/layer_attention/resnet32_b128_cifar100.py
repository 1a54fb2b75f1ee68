# ResNet-32 (He et al.) baseline, CIFAR-100.
# Paper: Table 2, 0.471M params, 31.9% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=32, layer_attention=False))
