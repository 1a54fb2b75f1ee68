# ResNet-101 baseline on ImageNet-1k with the layer-attention paper's recipe
# (4 GPUs x 64 images, Nesterov SGD, 100 epochs).
# Paper: Table 2, 44.54M params, 22.99/6.51% top-1/5 error.
_base_ = [
    'mmpretrain::_base_/models/resnet101.py',
    '../_base_/imagenet_bs64_100e_nesterov.py',
]
