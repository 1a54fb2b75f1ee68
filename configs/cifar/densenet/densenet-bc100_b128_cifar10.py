# DenseNet-BC (L = 100, k = 12) on CIFAR-10, RLA-Net Table 1: 0.80M
# parameters, 5.80% error (ours: 769,162 parameters, 0.8M as Huang et al.
# round it). The paper trains it with the recipe of its other CIFAR-10 runs.
_base_ = [
    '../../_base_/models/densenet_cifar.py',
    '../../_base_/cifar10_bs128_300e.py'
]
