# RLA-ResNet-164 on CIFAR-10, integration v2 (Figure 4): the residual feeds the
# update after the unit, h <- cell(h) + conv_out(residual). Paper (Table 11):
# 1.74M params, 5.53% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(update_position='after'))
