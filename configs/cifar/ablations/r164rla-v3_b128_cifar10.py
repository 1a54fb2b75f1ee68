# RLA-ResNet-164 on CIFAR-10, integration v3 (Figure 4): the block output (the
# residual sum) feeds the update before the unit, as the authors' released
# ImageNet code does. Paper (Table 11): 1.74M params, 5.13% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_source='output'))
