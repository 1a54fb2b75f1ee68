# Faster R-CNN with an RLA-ECA-ResNet-101 backbone (ECA kernel sizes
# 5, 5, 5, 7) and FPN, COCO, 1x schedule. ImageNet weights: the authors'
# ecanet101_rla_2100.pth.tar, converted to
# checkpoints/rla_ecaresnet101_in1k.pth.
_base_ = './faster_rcnn_r101rla_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        eca_kernel_sizes=(5, 5, 5, 7),
        init_cfg=dict(checkpoint='checkpoints/rla_ecaresnet101_in1k.pth')))
