# Layer-attention ResNet-56 with M=8 LSTM units (r=1), CIFAR-10.
# Paper: Table 3, 6.35% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, hidden_size=8, ratio=1))
