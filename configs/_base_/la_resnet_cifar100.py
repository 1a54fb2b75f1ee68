# Shared base of configs/layer_attention/*_cifar100.py: the CIFAR classifier
# with 100 classes, CIFAR-100 data and the paper's 160-epoch schedule.
_base_ = [
    'models/la_resnet_cifar.py',
    'datasets/cifar100_bs128.py',
    'schedules/cifar_bs128_160e.py',
    'mmpretrain::_base_/default_runtime.py',
    'default_runtime_rla.py',
]

model = dict(head=dict(num_classes=100))
