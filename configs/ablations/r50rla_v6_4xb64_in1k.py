# Ablation (Table 11, Figure 4 v6), the authors' rlav6_resnet50: the shortcut
# feeds the update, after the unit: h <- cell(h) + conv_out(shortcut).
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(rla_source='shortcut', update_position='after'))
