# RLA-MobileNetV2 ImageNet classifier: mmpretrain's MobileNetV2 model with the
# RLA backbone. The backbone output is conv2(cat(x, relu6(bn(h)))), 1280
# channels; the head keeps the authors' Dropout(0.2) before the linear layer.
_base_ = 'mmpretrain::_base_/models/mobilenet_v2_1x.py'

custom_imports = dict(
    imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='RLAMobileNetV2',
        widen_factor=1.0,
        rla_channel=32,
        out_indices=(7, )),
    head=dict(type='DropoutLinearClsHead', dropout_rate=0.2, in_channels=1280))
