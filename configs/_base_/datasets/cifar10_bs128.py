# CIFAR-10 with the standard augmentation (4-pixel padding, random 32x32
# crop, horizontal flip), one GPU x 128 images. Nothing downloads: put the
# python pickles of cifar-10-python.tar.gz in data/cifar10/cifar-10-batches-py.
_base_ = 'mmpretrain::_base_/datasets/cifar10_bs16.py'

train_dataloader = dict(batch_size=128, dataset=dict(download=False))
val_dataloader = dict(batch_size=128, dataset=dict(download=False))
test_dataloader = val_dataloader

# mmpretrain's ClsDataPreprocessor with a check: an image whose channels the
# normalization cannot take (e.g. RGBA) is refused in one line.
data_preprocessor = dict(type='CheckedClsDataPreprocessor')
