# Shared base of the RLA-Net CIFAR-100 configs (configs/cifar/): the 45k/5k
# split, the paper's 300-epoch schedule and the runtime. The checkpoint with
# the best validation top-1 is kept (best_accuracy_top1_epoch_*.pth; the
# paper reports the model with the highest validation accuracy); test it on
# the 10k test set with tools/test.py. Leaves add a model base.
_base_ = [
    'datasets/cifar100_split_bs128.py',
    'schedules/cifar_bs128_300e.py',
    'mmpretrain::_base_/default_runtime.py',
    'default_runtime_rla.py',
]
custom_imports = dict(
    imports=['mmrla.models', 'mmrla.datasets', 'mmrla.engine'],
    allow_failed_imports=False)

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='accuracy/top1',
        rule='greater'))
