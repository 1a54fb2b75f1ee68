# CIFAR classifier with the thin Xception of RLA-Net (appendix B.1; our
# reconstruction of its Table 9 is the docstring of
# mmrla/models/backbones/rla_xception.py): global average pooling and a
# linear classifier. This base is the plain baseline; the RLA leaves set
# with_rla=True and the classifier's 512 + k inputs.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='RLAXception', with_rla=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
