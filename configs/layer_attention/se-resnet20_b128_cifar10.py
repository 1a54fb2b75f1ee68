# SE-ResNet-20 baseline (SE ratio 16 in every block), CIFAR-10.
# Paper: Table 2, 0.278M params, 7.96% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=20, layer_attention=False, se_ratio=16))
