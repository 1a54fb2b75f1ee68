# Ablation (d) of Table 11, the authors' rlalstm_resnet50: a ConvLSTM unit with
# state (h, c) and input tanh(norm(update)); h reaches the classifier as it is.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(cell_cfg=dict(type='ConvLSTMCell'), readout='none'))
