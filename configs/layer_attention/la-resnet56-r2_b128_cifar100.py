# Layer-attention ResNet-56 with reduction ratio r=2
# (M=16: the paper does not say; r=16 needs M >= 16), CIFAR-100.
# Paper: Table 3, 28.13% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, hidden_size=16, ratio=2))
