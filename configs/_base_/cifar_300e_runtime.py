# What the RLA-Net CIFAR-10 and CIFAR-100 bases share: the paper's 300-epoch
# schedule, the runtime, the imports, and the checkpoint with the best
# validation top-1 kept (best_accuracy_top1_epoch_*.pth; the paper reports
# the model with the highest validation accuracy) beside the last two.
_base_ = [
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
