# Layer-attention ResNet-101 (RLA-101; M=512, r=16, N=1024) on ImageNet-1k,
# 4 GPUs x 64 images, Nesterov SGD, 100 epochs.
# Paper: Table 2, 48.24M params, 22.35/6.37% top-1/5 error.
_base_ = [
    'mmpretrain::_base_/models/resnet101.py',
    '../_base_/imagenet_bs64_100e_nesterov.py',
]

model = dict(
    backbone=dict(_delete_=True, type='LayerAttentionResNet', depth=101))
