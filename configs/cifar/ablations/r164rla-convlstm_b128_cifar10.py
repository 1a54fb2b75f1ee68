# RLA-ResNet-164 on CIFAR-10, ablation (d): a ConvLSTM unit with state (h, c)
# and input tanh(norm(update)); h reaches the classifier as it is. Paper (Table
# 11): 1.77M params, 5.36% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(cell_cfg=dict(type='ConvLSTMCell'), readout='none'))
