# RLA-ResNet-164 on CIFAR-10, RLA channel k = 8 (Table 13): 1.73M params, 4.98%
# error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_channel=8), head=dict(in_channels=256 + 8))
