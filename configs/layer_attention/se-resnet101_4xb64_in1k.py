# SE-ResNet-101 baseline (SE ratio 16 in every block; the layer-attention
# paper's own re-implementation) on ImageNet-1k, 4 GPUs x 64 images,
# Nesterov SGD, 100 epochs.
# Paper: Table 2, 49.33M params (printed 4.933M), 21.93/6.14% top-1/5 error.
_base_ = [
    'mmpretrain::_base_/models/resnet101.py',
    '../_base_/imagenet_bs64_100e_nesterov.py',
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='LayerAttentionResNet',
        depth=101,
        layer_attention=False,
        se_ratio=16))
