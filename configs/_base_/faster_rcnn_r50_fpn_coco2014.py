# Shared base of configs/layer_attention/faster-rcnn_*_coco2014.py: mmdet's
# Faster R-CNN with FPN and its 1x schedule (12 epochs, lr x0.1 after 8 and
# 11) on COCO 2014. It stands in for the paper's 490K iterations of batch 1
# (about 6 epochs of train2014) in Chen & Gupta's ResNet-C4 Faster R-CNN,
# which mmdet has only for caffe-style ResNets whose last stage sits in the
# RoI head, outside the backbone's recurrence.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'datasets/coco2014_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    'default_runtime_rla.py',
]

custom_imports = dict(
    imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)

# mmdet's DetDataPreprocessor with a check: an image whose channels the
# normalization cannot take (e.g. RGBA) is refused in one line.
model = dict(data_preprocessor=dict(type='CheckedDetDataPreprocessor'))

# Batch 16 (8 GPUs x 2 images), SGD lr 0.02, as mmdet's 1x schedule.
auto_scale_lr = dict(enable=False, base_batch_size=16)
