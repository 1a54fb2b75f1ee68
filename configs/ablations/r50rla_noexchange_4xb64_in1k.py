# Ablation (c) of Table 11, the authors' rlarh_resnet50: h is not fed to the
# main network (each block's first conv sees x only); only the classifier
# reads it.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(exchange=False))
