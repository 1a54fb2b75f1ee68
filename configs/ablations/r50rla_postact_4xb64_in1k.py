# Ablation (e) of Table 11, the authors' rlav1p_resnet50: post-activated unit
# h <- tanh(norm(conv(h + update))); h reaches the classifier as it is.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(
    backbone=dict(cell_cfg=dict(type='PostActRLACell'), readout='none'))
