# RLA-ResNet-50 ImageNet classifier: mmpretrain's ResNet-50 model with the
# RLA backbone; its head sees 2048 + k = 2080 channels (h is concatenated).
_base_ = 'mmpretrain::_base_/models/resnet50.py'

custom_imports = dict(
    imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='RLAResNet',
        depth=50,
        rla_channel=32,
        out_indices=(3, ),
        concat_hidden=True),
    head=dict(in_channels=2048 + 32))
