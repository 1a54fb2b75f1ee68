# The thin CIFAR Xception of RLA-Net on CIFAR-100 (paper, Table 2: 2.75M
# parameters, 24.31% error), the paper's 300-epoch recipe.
_base_ = [
    '../_base_/models/xception_cifar.py', '../_base_/cifar100_bs128_300e.py'
]
model = dict(head=dict(num_classes=100))
