# CIFAR classifier with a layer-attention ResNet (the CIFAR form: 3x3 stem,
# 16/32/64 channels); global average pooling and a linear classifier.
# Leaves set the depth and the attention options.
custom_imports = dict(
    imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='LayerAttentionResNet', depth=56),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
