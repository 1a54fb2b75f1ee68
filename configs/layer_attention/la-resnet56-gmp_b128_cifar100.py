# Layer-attention ResNet-56 with the GMP context, CIFAR-100.
# Paper: Table 1, 0.864M params, 28.87% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, context='gmp'))
