# Layer-attention ResNet-20 (RLA-20; GAP context, M=4, r=1, N=32), CIFAR-100.
# Paper: Table 2, 0.276M params, 31.77% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=20))
