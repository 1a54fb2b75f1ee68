# Ablation (Table 11, Figure 4 v2), the authors' rlav2_resnet50: the update
# enters after the recurrent unit, h <- cell(h) + conv_out(block output).
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(update_position='after'))
