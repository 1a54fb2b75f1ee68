# IA+RLA ResNet-56: SE (ratio 16) in every block, then the layer attention
# (Eq. 6), CIFAR-100.
# Paper: Table 1, 0.870M params, 28.49% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=56, se_ratio=16))
