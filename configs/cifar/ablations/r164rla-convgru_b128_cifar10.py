# RLA-ResNet-164 on CIFAR-10, A ConvGRU unit (the authors' rlagru on ImageNet;
# not in the paper's CIFAR tables); h reaches the classifier as it is.
_base_ = '../r164rla_b128_cifar10.py'

model = dict(backbone=dict(cell_cfg=dict(type='ConvGRUCell'), readout='none'))
