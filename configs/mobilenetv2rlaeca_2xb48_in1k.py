# RLA-ECA-MobileNetV2: ECA after each block's linear conv, kernel 1 where the
# row has fewer than 96 channels, else 3, as in the authors'
# dsrla_mobilenetv2_k32_eca; same recipe as RLA-MobileNetV2.
_base_ = './mobilenetv2rla_2xb48_in1k.py'

model = dict(backbone=dict(eca_kernel_sizes=(1, 1, 1, 1, 3, 3, 3)))
