# Pre-activation ResNet-164 (bottlenecks, no RLA) on CIFAR-100. Paper (Table
# 2): 1.74M params (ours 1.73M), 25.22% top-1 error (re-implemented).
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar100_bs128_300e.py'
]

model = dict(
    backbone=dict(with_rla=False), head=dict(in_channels=256, num_classes=100))
