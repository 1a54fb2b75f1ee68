# Faster R-CNN with an RLA-ResNet-101 backbone and FPN, COCO, 1x schedule.
# Weights: the authors' resnet101_rla_2148.pth.tar, converted to
# checkpoints/rla_resnet101_in1k.pth.
_base_ = './faster_rcnn_r50rla_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(checkpoint='checkpoints/rla_resnet101_in1k.pth')))
