# SE-ResNet-32 baseline (SE ratio 16 in every block), CIFAR-100.
# Paper: Table 2, 0.475M params, 30.34% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=32, layer_attention=False, se_ratio=16))
