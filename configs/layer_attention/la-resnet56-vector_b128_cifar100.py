# RLA-vector ResNet-56: the LSTM (M=32, r=16) predicts a channel vector,
# CIFAR-100.
# Paper: Table 1, 0.876M params, 27.33% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, vector=True, hidden_size=32, ratio=16))
