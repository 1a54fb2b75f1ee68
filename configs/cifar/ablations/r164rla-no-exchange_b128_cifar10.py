# RLA-ResNet-164 on CIFAR-10, ablation (c): h does not enter the blocks' first
# convs; only the classifier reads it. Paper (Table 11): 1.72M params (ours
# 1.71M), 5.51% error.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(exchange=False))
