# RLA-ResNet-164 on CIFAR-10, ablation (b): every block has its own 1x1 update
# conv and 3x3 recurrent conv. Paper (Tables 11 and 15): 1.90M params, 5.17%
# error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(share_rla_convs=False))
