# Faster R-CNN (FPN, 1x) with the layer-attention ResNet-101 on COCO 2014,
# the layer-attention paper's Table 2: 51.2/30.7 mAP@.5/mAP@[.5,.95].
# The backbone starts from this repo's ImageNet run of
# configs/layer_attention/la-resnet101_4xb64_in1k.py, or from scratch with
# --cfg-options model.backbone.init_cfg=None.
_base_ = './faster-rcnn_la-r50_coco2014.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            checkpoint='work_dirs/la-resnet101_4xb64_in1k/epoch_100.pth')))
