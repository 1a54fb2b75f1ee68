# Layer-attention ResNet-110 (RLA-110; GAP context, M=4, r=1, N=32), CIFAR-10.
# Paper: Table 2, 1.737M params, 5.92% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=110))
