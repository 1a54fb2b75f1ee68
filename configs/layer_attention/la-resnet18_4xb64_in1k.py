# Layer-attention ResNet-18 (RLA-18; M=128, r=8, N=256) on ImageNet-1k,
# 4 GPUs x 64 images, Nesterov SGD, 100 epochs.
# Paper: Table 2, 11.90M params, 29.35/10.31% top-1/5 error.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../_base_/imagenet_bs64_100e_nesterov.py',
]

model = dict(
    backbone=dict(_delete_=True, type='LayerAttentionResNet', depth=18))
