# Cascade R-CNN with deformable convs in stages 2-4 (c3-c5) on an
# RLA-ResNet-50: mmdet's own config with `type='RLAResNet'` as the one change
# to its backbone (docs/detection.md, "RLA in any mmdet detector"). Every
# other backbone argument is mmdet's: style='pytorch', frozen_stages=1,
# norm_eval=True, out_indices=(0, 1, 2, 3), dcn and stage_with_dcn; in mmdet's
# scope RLAResNet drops h and gives the FPN the four stage features.
#
# Train:
#   python tools/train.py \
#       configs/cascade_rcnn_r50rla_dconv_c3_c5_fpn_1x_coco.py
# The backbone starts from the authors' ImageNet weights, converted with
#   python tools/model_converters/rlanet_to_mmrla.py \
#       resnet50_rla_2283.pth.tar checkpoints/rla_resnet50_in1k.pth
# (the deformable convs' offsets, absent from it, start at zero) or from
# scratch with --cfg-options model.backbone.init_cfg=None.
_base_ = 'mmdet::dcn/cascade-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py'

custom_imports = dict(imports=['mmrla.models'], allow_failed_imports=False)

model = dict(
    # mmdet's DetDataPreprocessor with a check: an image whose channels the
    # normalization cannot take (e.g. RGBA) is refused in one line.
    data_preprocessor=dict(type='CheckedDetDataPreprocessor'),
    backbone=dict(
        type='RLAResNet',
        # mmdet's torchvision ResNet-50 weights -> the converted RLA ones.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/rla_resnet50_in1k.pth',
            prefix='backbone.')))
