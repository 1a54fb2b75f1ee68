# Ablation (Table 11), the authors' rlav1_resnet50: the released RLA-ResNet-50
# with tanh instead of ReLU after the norm of h before the classifier.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(readout='norm_tanh'))
