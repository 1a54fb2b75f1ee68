# Baseline for the demo: the same recipe with mmdet's plain ResNet-18.
_base_ = './mask_rcnn_r18rla_fpn_shapes.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        style='pytorch'))
