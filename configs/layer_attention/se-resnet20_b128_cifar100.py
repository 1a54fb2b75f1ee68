# SE-ResNet-20 baseline (SE ratio 16 in every block), CIFAR-100.
# Paper: Table 2, 0.278M params, 31.08% top-1 error.
_base_ = '../_base_/la_resnet_cifar100.py'

model = dict(backbone=dict(depth=20, layer_attention=False, se_ratio=16))
