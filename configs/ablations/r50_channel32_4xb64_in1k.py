# Ablation (a) of Table 11, the authors' resnet50_k: a plain ResNet-50 (no
# RLA) with 32 more output channels in every stage, trained with the
# RLA-ResNet recipe.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/rla_resnet_bs256_120e.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['mmrla.models'], allow_failed_imports=False)

model = dict(
    backbone=dict(type='ResNetExtraChannels', extra_channels=32),
    head=dict(in_channels=2048 + 32))
