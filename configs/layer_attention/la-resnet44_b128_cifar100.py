# Layer-attention ResNet-44 (RLA-44; GAP context, M=4, r=1, N=32), CIFAR-100.
# Paper: Table 2, 0.668M params, 28.75% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=44))
