# The paper's RLA-MobileNetV2 recipe (appendix B.2.1): SGD, momentum 0.9,
# weight decay 4e-5, batch 96, lr 0.045 x 0.98 every epoch, 400 epochs.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256_epochstep.py'

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.045, momentum=0.9, weight_decay=4e-5))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=1, gamma=0.98)
train_cfg = dict(max_epochs=400)
auto_scale_lr = dict(base_batch_size=96)
