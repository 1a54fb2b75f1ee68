# COCO 2014 detection as the layer-attention paper uses it (section 4.3):
# train on train2014 (83K images), evaluate on val2014 (41K images) with
# mmdet's CocoMetric (mAP@[.5,.95] is bbox_mAP, mAP@.5 is bbox_mAP_50).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

train_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_train2014.json',
        data_prefix=dict(img='train2014/')))
val_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_val2014.json',
        data_prefix=dict(img='val2014/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='data/coco/annotations/instances_val2014.json')
test_evaluator = val_evaluator
