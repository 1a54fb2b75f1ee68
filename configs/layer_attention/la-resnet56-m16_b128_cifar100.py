# Layer-attention ResNet-56 with M=16 LSTM units (r=1), CIFAR-100.
# Paper: Table 3, 27.72% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, hidden_size=16, ratio=1))
