# Ablation (Table 11, Figure 4 v3), the authors' rlav3_resnet50: the block
# output feeds the update before the unit. In the authors' code the default
# model's update already reads the block output (its branch tensor is summed
# in place), so v3 is the released architecture; see docs_ablations.md.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(rla_source='output', update_position='before'))
