# RLA-Xception on CIFAR-10 (paper, Table 2: +0.07M parameters over the thin
# Xception, 5.78% error): hidden state of k = 16 channels, read out
# relu(bn(h)) next to the 512 channels of the last feature map.
_base_ = [
    '../_base_/models/xception_cifar.py', '../_base_/cifar10_bs128_300e.py'
]
model = dict(
    backbone=dict(with_rla=True, rla_channel=16),
    head=dict(in_channels=512 + 16))
