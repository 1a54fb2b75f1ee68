# Ablation (b) of Table 15 for ResNet-101, the authors' rlaus_resnet101; see
# r50rla_unshared_4xb64_in1k.py.
_base_ = '../r101rla_4xb64_in1k.py'

model = dict(backbone=dict(share_rla_convs=False, rla_source='residual'))
