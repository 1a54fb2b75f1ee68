# ResNet-18 baseline on ImageNet-1k with the layer-attention paper's recipe
# (4 GPUs x 64 images, Nesterov SGD, 100 epochs).
# Paper: Table 2, 11.69M params, 29.61/10.47% top-1/5 error.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../_base_/imagenet_bs64_100e_nesterov.py',
]
