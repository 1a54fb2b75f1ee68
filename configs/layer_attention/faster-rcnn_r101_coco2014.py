# Faster R-CNN (FPN, 1x) with a ResNet-101 backbone on COCO 2014, the
# baseline of the layer-attention paper's Table 2: 50.3/30.5
# mAP@.5/mAP@[.5,.95].
# The backbone starts from this repo's ImageNet run of
# configs/layer_attention/resnet101_4xb64_in1k.py (the same recipe as the
# layer-attention backbone), or from scratch with
# --cfg-options model.backbone.init_cfg=None.
_base_ = './faster-rcnn_r50_coco2014.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            checkpoint='work_dirs/resnet101_4xb64_in1k/epoch_100.pth')))
