# RLA-ResNet-164 on CIFAR-10, RLA channel k = 16 (Table 13): 1.75M params,
# 5.28% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_channel=16), head=dict(in_channels=256 + 16))
