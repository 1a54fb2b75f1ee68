# The paper's refined ImageNet recipe (appendix B.2.2): SGD, momentum 0.9,
# weight decay 1e-4, batch 256, lr 0.1 warmed up linearly over 5 epochs, then
# cosine decay to 0 by epoch 200 (mmpretrain's imagenet_bs256 schedule with
# mmengine's LinearLR and CosineAnnealingLR, stepped per iteration).
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256.py'

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.001,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=195,
        eta_min=0,
        by_epoch=True,
        begin=5,
        end=200,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
