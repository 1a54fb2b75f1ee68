# RLA-ResNet-50 as a detection backbone, shared by the Faster R-CNN, Mask
# R-CNN and RetinaNet configs. A detector's base already defines `model`, and
# mmengine refuses a key that two bases both define, so this file holds the
# backbone as a variable; a config takes it with
#     _base_ = ['mmdet::...', './_base_/models/r50rla_det.py']
#     model = dict(
#         backbone=dict(_delete_=True, **_base_.pop('r50rla_det_backbone')))
# (pop: the merged config then holds the backbone once, in model.backbone).
custom_imports = dict(
    imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)

r50rla_det_backbone = dict(
    type='RLAResNet',
    depth=50,
    rla_channel=32,
    # Detection mode: the four stage features go to the FPN; the hidden
    # state h is dropped (the paper does not pass it to the FPN).
    out_indices=(0, 1, 2, 3),
    concat_hidden=False,
    frozen_stages=1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=True,
    init_cfg=dict(
        type='Pretrained',
        checkpoint='checkpoints/rla_resnet50_in1k.pth',
        prefix='backbone.'))
