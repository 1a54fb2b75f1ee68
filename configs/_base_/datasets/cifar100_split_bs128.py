# CIFAR-100 as RLA-Net trains it (appendix B.1): the official 50k training
# images split 45k/5k into train/validation (CIFAR100Split, mmrla.datasets:
# the validation images are the last 5,000 in file order of the "train"
# file), the official 10k test images for testing; 4-pixel zero padding
# (mmpretrain's RandomCrop pads with 0), random 32x32 crop and horizontal
# flip, per-channel normalisation (mmpretrain's CIFAR-100 means and
# standard deviations of the training images); one GPU x 128 images.
# Nothing downloads: unpack cifar-100-python.tar.gz
# (https://www.cs.toronto.edu/~kriz/cifar.html) in data/cifar100, so that
# data/cifar100/cifar-100-python/train exists.
_base_ = 'cifar100_bs128.py'

train_dataloader = dict(dataset=dict(type='CIFAR100Split', split='train'))
val_dataloader = dict(dataset=dict(type='CIFAR100Split', split='val'))
test_dataloader = dict(dataset=dict(type='CIFAR100Split', split='test'))
