# RLA-ResNet-50 as ResNet-D with the paper's training refinements (appendix
# B.2.2; 20.25 / 5.12 top-1 / top-5 error in its Table 3):
# - ResNet-D: the stride in the 3x3 conv of the downsampling blocks, a stem
#   of three 3x3 convs, and 2x2 average pooling before a non-strided 1x1
#   conv in the downsampling shortcuts;
# - label smoothing 0.1, Mixup with alpha 0.2, 5 epochs of linear warm-up,
#   then cosine decay over 200 epochs from lr 0.1 (4 GPUs x 64 images).
# Parameters and FLOPs beside the paper's: docs/paper_tables.md.
_base_ = [
    '_base_/models/r50rla.py',
    '_base_/datasets/imagenet_bs64.py',
    '_base_/schedules/rla_resnet_d_bs256_200e.py',
    'mmpretrain::_base_/default_runtime.py',
    '_base_/default_runtime_rla.py',
]

model = dict(
    # style='pytorch' (the default) already strides in the 3x3 conv.
    backbone=dict(style='pytorch', deep_stem=True, avg_down=True),
    head=dict(
        loss=dict(
            type='LabelSmoothLoss',
            label_smooth_val=0.1,
            mode='original',
            loss_weight=1.0)),
    train_cfg=dict(augments=dict(type='Mixup', alpha=0.2)))
