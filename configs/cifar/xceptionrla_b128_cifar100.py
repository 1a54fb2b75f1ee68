# RLA-Xception on CIFAR-100 (paper, Table 2: +0.06M parameters over the thin
# Xception, 24.00% error): hidden state of k = 16 channels, read out
# relu(bn(h)) next to the 512 channels of the last feature map.
_base_ = [
    '../_base_/models/xception_cifar.py', '../_base_/cifar100_bs128_300e.py'
]
model = dict(
    backbone=dict(with_rla=True, rla_channel=16),
    head=dict(num_classes=100, in_channels=512 + 16))
