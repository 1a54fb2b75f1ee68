# RLA-ResNet-164 on CIFAR-10, RLA channel k = 24 (Table 13): 1.78M params,
# 5.14% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_channel=24), head=dict(in_channels=256 + 24))
