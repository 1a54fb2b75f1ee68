# DenseNet-BC 100 with one 1x1 conv per dense block shared by source layer
# (Shared-Ordinal, Eq. 10, the ResNet pattern), RLA-Net Table 1: 0.60M
# parameters, 6.29% error (ours: 587,722). Plot its shared weights (Figure 3)
# with tools/visualization/shared_weights.py.
_base_ = [
    '../../_base_/models/densenet_cifar.py',
    '../../_base_/cifar10_bs128_300e.py'
]
model = dict(backbone=dict(aggregation='shared_ordinal'))
