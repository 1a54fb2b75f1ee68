# SE-ResNet-56 baseline (SE ratio 16 in every block), CIFAR-10.
# Paper: Table 2, 0.871M params, 6.3% top-1 error.
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, layer_attention=False, se_ratio=16))
