# Layer-attention ResNet-56 (RLA-56; GAP context, M=4, r=1, N=32), CIFAR-100.
# Paper: Table 2, 0.859M params, 27.15% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56))
