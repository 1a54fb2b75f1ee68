# Layer-attention ResNet-56 with M=8 LSTM units (r=1), CIFAR-100.
# Paper: Table 3, 27.92% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, hidden_size=8, ratio=1))
