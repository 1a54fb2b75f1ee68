# RLA-ResNet-164 on CIFAR-10, integration v6 (Figure 4): the shortcut feeds the
# update after the unit. Paper (Table 11): 1.74M params, 5.62% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_source='shortcut', update_position='after'))
