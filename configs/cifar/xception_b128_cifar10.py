# The thin CIFAR Xception of RLA-Net on CIFAR-10 (paper, Table 2: 2.70M
# parameters, 6.03% error), the paper's 300-epoch recipe.
_base_ = [
    '../_base_/models/xception_cifar.py', '../_base_/cifar10_bs128_300e.py'
]
