# RetinaNet with an RLA-ECA-ResNet-50 backbone (ECA kernel sizes
# 5, 5, 5, 7) and FPN, COCO, 1x schedule. ImageNet weights: the authors'
# ecanet50_rla_2215.pth.tar, converted to
# checkpoints/rla_ecaresnet50_in1k.pth.
_base_ = './retinanet_r50rla_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        eca_kernel_sizes=(5, 5, 5, 7),
        init_cfg=dict(checkpoint='checkpoints/rla_ecaresnet50_in1k.pth')))
