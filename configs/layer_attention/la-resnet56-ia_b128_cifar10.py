# IA+RLA ResNet-56: SE (ratio 16) in every block, then the layer attention
# (Eq. 6), CIFAR-10.
# Paper: Table 1, 0.870M params, 6.42% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, se_ratio=16))
