# RLA-vector ResNet-56: the LSTM (M=32, r=16) predicts a channel vector,
# CIFAR-10.
# Paper: Table 1, 0.876M params, 6.28% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, vector=True, hidden_size=32, ratio=16))
