# RLA-ResNet-164 on CIFAR-10, ablation (e): the post-activated unit h <-
# tanh(norm(conv(h + update))); h reaches the classifier as it is. Paper (Table
# 11): 1.74M params, 5.39% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(
    backbone=dict(cell_cfg=dict(type='PostActRLACell'), readout='none'))
