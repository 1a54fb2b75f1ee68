# RLA-ResNet-50 (the ImageNet recipe of ../r50rla_4xb64_in1k.py) on your own
# image folder, one subfolder per class; no meta/*.txt files needed.
# Copy this file and set data_root; docs/own_data.md explains each line.
#
#   data/own_folder/train/cat/*.jpg   data/own_folder/train/dog/*.jpg ...
#   data/own_folder/val/cat/*.jpg     data/own_folder/val/dog/*.jpg ...
#
# The classes are the subfolder names, sorted; tools/train.py and
# tools/test.py set the head's num_classes to their number (and keep top-5
# accuracy only with 5 classes or more).
# Train: python tools/train.py CONFIG
_base_ = '../r50rla_4xb64_in1k.py'

data_root = 'data/own_folder'
# The image suffixes read: mmpretrain's list and WebP. Files of other
# suffixes are not read (tools/misc/check_data.py counts them).
extensions = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.webp')

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        extensions=extensions,
        data_prefix='train',
        pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        extensions=extensions,
        data_prefix='val',
        pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
