# The paper's RLA-ResNet recipe (section 4.2, appendix B.2.1): SGD, momentum
# 0.9, weight decay 1e-4, batch 256, lr 0.1 x 0.1 every 30 epochs, 120 epochs.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256.py'

param_scheduler = dict(milestones=[30, 60, 90])
train_cfg = dict(max_epochs=120)
auto_scale_lr = dict(base_batch_size=256)
