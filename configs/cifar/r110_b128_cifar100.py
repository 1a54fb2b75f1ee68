# Pre-activation ResNet-110 (basic blocks, no RLA) on CIFAR-100. Paper (Table
# 2): 1.74M params, 28.51% top-1 error (re-implemented).
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar100_bs128_300e.py'
]

model = dict(
    backbone=dict(depth=110, with_rla=False),
    head=dict(in_channels=64, num_classes=100))
