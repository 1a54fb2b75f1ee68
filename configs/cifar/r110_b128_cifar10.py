# Pre-activation ResNet-110 (basic blocks, no RLA) on CIFAR-10. Paper (Table
# 2): 1.73M params, 6.35% top-1 error (re-implemented).
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar10_bs128_300e.py'
]

model = dict(
    backbone=dict(depth=110, with_rla=False), head=dict(in_channels=64))
