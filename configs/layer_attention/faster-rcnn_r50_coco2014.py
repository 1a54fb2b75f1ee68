# Faster R-CNN (FPN, 1x) with a ResNet-50 backbone on COCO 2014, the
# baseline of the layer-attention paper's Table 2: 47.4/27.7
# mAP@.5/mAP@[.5,.95].
# The backbone starts from this repo's ImageNet run of
# configs/layer_attention/resnet50_4xb64_in1k.py (the same recipe as the
# layer-attention backbone), or from scratch with
# --cfg-options model.backbone.init_cfg=None.
_base_ = '../_base_/faster_rcnn_r50_fpn_coco2014.py'

model = dict(
    backbone=dict(
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/resnet50_4xb64_in1k/epoch_100.pth',
            prefix='backbone.')))
