# RLA-vector ResNet-56 with M=4 LSTM units (r=1, as the M study of Table 3),
# CIFAR-10: appendix C's small-M experiment, which the paper reports
# only as "a prominent performance decrease" (no figure).
_base_ = '../_base_/la_resnet_cifar10.py'

model = dict(backbone=dict(depth=56, vector=True, hidden_size=4, ratio=1))
