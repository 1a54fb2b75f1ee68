# SE-ResNet-110 baseline (SE ratio 16 in every block), CIFAR-100.
# Paper: Table 2, 1.755M params, 27.01% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=110, layer_attention=False, se_ratio=16))
