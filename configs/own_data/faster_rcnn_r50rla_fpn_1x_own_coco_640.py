# faster_rcnn_r50rla_fpn_1x_own_coco.py at a smaller input scale, 640x400
# instead of 1333x800: about 4x fewer pixels, for first trials on a CPU.
# Set the paths and classes in the file it inherits (or copy both).
_base_ = './faster_rcnn_r50rla_fpn_1x_own_coco.py'

scale = (640, 400)
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                       'scale_factor'))
    ]))
test_dataloader = val_dataloader
