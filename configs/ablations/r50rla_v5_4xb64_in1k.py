# Ablation (Table 11, Figure 4 v5), the authors' rlav5_resnet50: the shortcut
# (identity or its projection) feeds the update, before the unit.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(rla_source='shortcut'))
