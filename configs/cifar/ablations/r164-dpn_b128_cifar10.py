# Dual path ResNet-164 (the "DenseNet (DPN)" row of Table 11) on CIFAR-10:
# the pre-activation ResNet-164 with a densely connected path growing by
# k = 12 channels per block (DualPathPreActResNet); the classifier sees the
# 256 residual and 2k + 18k = 240 dense channels of the last stage.
# Paper: 2.13M params, 5.99% error.
_base_ = '../r164_b128_cifar10.py'

model = dict(
    backbone=dict(_delete_=True, type='DualPathPreActResNet', growth=12),
    head=dict(in_channels=256 + 20 * 12))
