# CIFAR-100 with the standard augmentation (4-pixel padding, random 32x32
# crop, horizontal flip), one GPU x 128 images. Nothing downloads: put the
# python pickles of cifar-100-python.tar.gz in data/cifar100/cifar-100-python.
_base_ = 'mmpretrain::_base_/datasets/cifar100_bs16.py'

train_dataloader = dict(batch_size=128, dataset=dict(download=False))
val_dataloader = dict(batch_size=128, dataset=dict(download=False))
test_dataloader = val_dataloader

# mmpretrain's ClsDataPreprocessor with a check: an image whose channels the
# normalization cannot take (e.g. RGBA) is refused in one line.
data_preprocessor = dict(type='CheckedClsDataPreprocessor')
