# Faster R-CNN (FPN, 1x) with the layer-attention ResNet-50 on COCO 2014,
# the layer-attention paper's Table 2: 48.2/27.8 mAP@.5/mAP@[.5,.95].
# The backbone starts from this repo's ImageNet run of
# configs/layer_attention/la-resnet50_4xb64_in1k.py, or from scratch with
# --cfg-options model.backbone.init_cfg=None.
_base_ = '../_base_/faster_rcnn_r50_fpn_coco2014.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='LayerAttentionResNet',
        depth=50,
        # The four stage features go to the FPN.
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/la-resnet50_4xb64_in1k/epoch_100.pth',
            prefix='backbone.')))
