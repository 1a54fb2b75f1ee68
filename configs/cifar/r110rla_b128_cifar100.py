# RLA-ResNet-110 (k = 4) on CIFAR-100. Paper (Table 2): 1.74M + 0.07M params,
# 27.44% top-1 error.
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar100_bs128_300e.py'
]

model = dict(
    backbone=dict(depth=110), head=dict(in_channels=64 + 4, num_classes=100))
