# RLA-ResNet-164 on CIFAR-10, integration v5 (Figure 4): the shortcut (identity
# or its projection) feeds the update before the unit. Paper (Table 11): 1.74M
# params, 5.00% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_source='shortcut'))
