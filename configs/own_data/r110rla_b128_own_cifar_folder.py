# RLA-ResNet-110 (the CIFAR recipe of ../cifar/r110rla_b128_cifar10.py) on
# your own small images in folders, one subfolder per class.
# Copy this file and set data_root; docs/own_data.md explains each line.
#
#   data/own_cifar/train/<class>/*.png   training images
#   data/own_cifar/val/<class>/*.png     validation: save_best keeps the
#                                        checkpoint that scores best here
#   data/own_cifar/test/<class>/*.png    tools/test.py evaluates on these
#
# Images are resized to 32x32 (CIFAR's size) before the recipe's padding,
# crop and flip. The classes are the subfolder names, sorted;
# tools/train.py and tools/test.py set num_classes to their number.
# Train: python tools/train.py CONFIG
_base_ = '../cifar/r110rla_b128_cifar10.py'

data_root = 'data/own_cifar'
# The image suffixes read: mmpretrain's list and WebP. Files of other
# suffixes are not read (tools/misc/check_data.py counts them).
extensions = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.webp')

# Image files load as BGR; CIFAR's pickles hold RGB. The mean and std are
# CIFAR-10's: replace them with your images' per-channel figures.
data_preprocessor = dict(to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    *_base_.train_pipeline,
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    *_base_.test_pipeline,
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        extensions=extensions,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        extensions=extensions,
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        extensions=extensions,
        data_prefix='test',
        pipeline=test_pipeline))
