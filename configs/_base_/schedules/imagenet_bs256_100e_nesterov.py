# The layer-attention paper's ImageNet recipe (section 4.2, appendix A):
# Nesterov SGD, momentum 0.9, weight decay 1e-4, batch 256, lr 0.1 divided
# by 10 every 30 epochs, 100 epochs (mmpretrain's imagenet_bs256 schedule
# with Nesterov momentum).
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256.py'

optim_wrapper = dict(optimizer=dict(nesterov=True))
param_scheduler = dict(milestones=[30, 60, 90])
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=256)
