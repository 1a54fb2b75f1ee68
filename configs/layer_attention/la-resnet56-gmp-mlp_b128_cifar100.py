# Layer-attention ResNet-56 with the GMP+MLP context, CIFAR-100.
# Paper: Table 1, 0.871M params, 28.73% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, context='gmp_mlp'))
