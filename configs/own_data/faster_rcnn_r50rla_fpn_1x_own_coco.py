# Faster R-CNN with RLA-ResNet-50 and FPN (the COCO recipe of
# ../faster_rcnn_r50rla_fpn_1x_coco.py) on your own COCO-format data.
# Copy this file and set the paths; docs/own_data.md explains each line.
#
#   data/own_coco/annotations/instances_train.json   COCO-format annotations
#   data/own_coco/annotations/instances_val.json
#   data/own_coco/train/   data/own_coco/val/         the images they name
#
# Train: python tools/train.py CONFIG
# Test:  python tools/test.py CONFIG \
#            work_dirs/faster_rcnn_r50rla_fpn_1x_own_coco/epoch_12.pth
_base_ = '../faster_rcnn_r50rla_fpn_1x_coco.py'

# ClassOrderCocoDataset and ClassOrderCocoMetric: mmdet's COCO dataset and
# metric, with label i for classes[i] whatever the file's order.
custom_imports = dict(
    imports=[
        'mmrla.models', 'mmrla.engine', 'mmrla.datasets', 'mmrla.evaluation'
    ],
    allow_failed_imports=False)

# `--cfg-options data_root=...` moves every path below with it.
data_root = 'data/own_coco/'
train_ann_file = 'annotations/instances_train.json'
train_img_prefix = 'train/'
val_ann_file = 'annotations/instances_val.json'
val_img_prefix = 'val/'
# The class names. None: tools/train.py and tools/test.py read them from the
# annotation file (its categories, in id order) and set num_classes to
# match. Or name them in one line, e.g. classes = ('cat', 'dog'), to train
# on those categories only; label i is classes[i], in any order.
classes = None
# 1333x800 is the paper's scale; (640, 400) trains ~4x faster, e.g. for a
# first trial on a CPU (docs/own_data.md: "A smaller input scale").
scale = (1333, 800)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        type='ClassOrderCocoDataset',
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_img_prefix),
        metainfo=dict(classes=classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='ClassOrderCocoDataset',
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_img_prefix),
        metainfo=dict(classes=classes),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='ClassOrderCocoMetric', ann_file=data_root + val_ann_file)
test_evaluator = val_evaluator
