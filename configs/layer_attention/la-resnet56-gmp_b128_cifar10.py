# Layer-attention ResNet-56 with the GMP context, CIFAR-10.
# Paper: Table 1, 0.864M params, 6.79% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, context='gmp'))
