# ResNet-32 (He et al.) baseline, CIFAR-10.
# Paper: Table 2, 0.471M params, 7.51% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=32, layer_attention=False))
