# CIFAR classifier with DenseNet-BC (L = 100, k = 12; Huang et al. 2017) as
# RLA-Net's section 3.2 uses it: 3x3 stem of 2k channels, three dense blocks
# of 16 bottleneck layers, compression 0.5, final BN-ReLU (342 channels),
# global average pooling and a linear classifier. Leaves choose the 1x1
# aggregation: 'dense' (Eq. 3), 'shared_lag' (Eq. 9), 'shared_ordinal'
# (Eq. 10); see mmrla/models/backbones/layer_aggregation_densenet.py.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='LayerAggregationDenseNet',
        depth=100,
        growth_rate=12,
        aggregation='dense'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=342,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
