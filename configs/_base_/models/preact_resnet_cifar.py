# CIFAR classifier with a pre-activation ResNet (RLAPreActResNet; paper,
# appendix B.1): RLA-ResNet-164 (k = 12) by default, whose head sees
# 256 + 12 channels (h is concatenated). Leaves set the depth, with_rla and
# the head's in_channels (64 / 256 without RLA, 64 + 4 for RLA-ResNet-110).
# No custom_imports here: the CIFAR recipe bases import mmrla.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='RLAPreActResNet', depth=164, with_rla=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256 + 12,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
