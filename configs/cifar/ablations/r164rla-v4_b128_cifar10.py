# RLA-ResNet-164 on CIFAR-10, integration v4 (Figure 4): the block output feeds
# the update after the unit. Paper (Table 11): 1.74M params, 5.35% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(rla_source='output', update_position='after'))
