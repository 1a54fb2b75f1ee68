# ResNet-50 baseline on ImageNet-1k with the layer-attention paper's recipe
# (4 GPUs x 64 images, Nesterov SGD, 100 epochs).
# Paper: Table 2, 25.55M params, 24.84/7.55% top-1/5 error.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/imagenet_bs64_100e_nesterov.py',
]
