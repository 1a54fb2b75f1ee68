# RLA-ResNet-50 on ImageNet-1k with the paper's recipe: 4 GPUs x 64 images,
# SGD lr 0.1 (x0.1 every 30 epochs), 120 epochs, Kaiming init.
_base_ = [
    '_base_/models/r50rla.py',
    '_base_/datasets/imagenet_bs64.py',
    '_base_/schedules/rla_resnet_bs256_120e.py',
    'mmpretrain::_base_/default_runtime.py',
    '_base_/default_runtime_rla.py',
]
