# Layer-attention ResNet-56 with M=2 LSTM units (r=1), CIFAR-100.
# Paper: Table 3, 27.47% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, hidden_size=2, ratio=1))
