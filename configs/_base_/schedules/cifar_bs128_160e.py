# The layer-attention paper's CIFAR recipe (section 4.2, appendix A):
# Nesterov SGD, momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided
# by 10 at epochs 80 and 120, 160 epochs.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[80, 120], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=160, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
