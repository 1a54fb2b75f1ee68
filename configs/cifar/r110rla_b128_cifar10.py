# RLA-ResNet-110 (k = 4) on CIFAR-10. Paper (Table 2): 1.73M + 0.07M params,
# 5.88% top-1 error.
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar10_bs128_300e.py'
]

model = dict(backbone=dict(depth=110), head=dict(in_channels=64 + 4))
