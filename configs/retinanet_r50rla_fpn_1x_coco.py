# RetinaNet with an RLA-ResNet-50 backbone and FPN, COCO, 1x schedule
# (12 epochs), as in Table 4 of the RLA-Net paper.
#
# Train: python tools/train.py configs/retinanet_r50rla_fpn_1x_coco.py
#        bash tools/dist_train.sh configs/retinanet_r50rla_fpn_1x_coco.py 4
# The backbone starts from the authors' ImageNet weights, converted with
#   python tools/model_converters/rlanet_to_mmrla.py \
#       resnet50_rla_2283.pth.tar checkpoints/rla_resnet50_in1k.pth
# or from scratch with --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    './_base_/models/r50rla_det.py', './_base_/default_runtime_rla.py'
]

model = dict(
    # mmdet's DetDataPreprocessor with a check: an image whose channels the
    # normalization cannot take (e.g. RGBA) is refused in one line.
    data_preprocessor=dict(type='CheckedDetDataPreprocessor'),
    backbone=dict(_delete_=True, **_base_.pop('r50rla_det_backbone')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))

# The paper's 1x schedule: batch 8 (4 GPUs x 2 images), SGD lr 0.01,
# momentum 0.9, weight decay 1e-4, lr x0.1 after epochs 8 and 11. mmdet's
# base already has the 1333x800 resize, 12 epochs and the [8, 11] steps.
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
# --auto-scale-lr rescales lr 0.01 linearly from a total batch of 8.
auto_scale_lr = dict(enable=False, base_batch_size=8)
