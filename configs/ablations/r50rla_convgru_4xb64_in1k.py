# The authors' rlagru_resnet50 (not in the paper's tables): a ConvGRU unit with
# input tanh(norm(update)); h reaches the classifier as it is.
_base_ = '../r50rla_4xb64_in1k.py'

model = dict(backbone=dict(cell_cfg=dict(type='ConvGRUCell'), readout='none'))
