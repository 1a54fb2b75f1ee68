# Ablation (b) of Tables 11 and 15, the authors' rlaus_resnet50: every block
# has its own 1x1 update conv and 3x3 recurrent conv; the residual branch
# feeds the update (the authors' unshared block adds the shortcut out of
# place, so its update reads the branch).
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(share_rla_convs=False, rla_source='residual'))
