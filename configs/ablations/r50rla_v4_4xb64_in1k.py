# Ablation (Table 11, Figure 4 v4), the authors' rlav4_resnet50: the block
# output feeds the update after the unit. For the same in-place reason as v3,
# this is the architecture of v2 in the authors' code.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(rla_source='output', update_position='after'))
