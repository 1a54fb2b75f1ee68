# RLA-ECA-ResNet-152 (RLA-ECANet-152): ECA kernel sizes (5, 5, 5, 7) per
# stage, as in the authors' rla_resnet152_eca; same recipe as RLA-ResNet.
_base_ = './r152rla_4xb64_in1k.py'

model = dict(backbone=dict(eca_kernel_sizes=(5, 5, 5, 7)))
