# CIFAR-100 as RLA-Net trains it (appendix B.1): the official 50k training
# images split 45k/5k into train/validation (CIFAR100Split, mmrla.datasets:
# the validation images are the last 5,000 in file order), the official 10k
# test images for testing; 4-pixel zero padding, random 32x32 crop and
# horizontal flip, per-channel normalisation; one GPU x 128 images.
# Nothing downloads: put the python pickles of cifar-100-python.tar.gz
# (https://www.cs.toronto.edu/~kriz/cifar.html) in
# data/cifar100/cifar-100-python.
_base_ = 'mmpretrain::_base_/datasets/cifar100_bs16.py'

train_dataloader = dict(
    batch_size=128,
    dataset=dict(type='CIFAR100Split', split='train', download=False))
val_dataloader = dict(
    batch_size=128,
    dataset=dict(type='CIFAR100Split', split='val', download=False))
test_dataloader = dict(
    batch_size=128,
    dataset=dict(type='CIFAR100Split', split='test', download=False))
