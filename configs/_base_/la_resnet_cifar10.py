# Shared base of configs/layer_attention/*_cifar10.py: the CIFAR classifier,
# CIFAR-10 data and the paper's 160-epoch schedule.
_base_ = [
    'models/la_resnet_cifar.py',
    'datasets/cifar10_bs128.py',
    'schedules/cifar_bs128_160e.py',
    'mmpretrain::_base_/default_runtime.py',
    'default_runtime_rla.py',
]
