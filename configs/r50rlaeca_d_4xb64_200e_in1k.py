# RLA-ECANet-50 as ResNet-D with the paper's training refinements (appendix
# B.2.2; 19.31 / 4.71 top-1 / top-5 error in its Table 3): the recipe of
# r50rla_d_4xb64_200e_in1k.py with ECA kernel sizes (5, 5, 5, 7) per stage.
_base_ = './r50rla_d_4xb64_200e_in1k.py'

model = dict(backbone=dict(eca_kernel_sizes=(5, 5, 5, 7)))
