# CIFAR-10 as RLA-Net trains it (appendix B.1): the official 50k training
# images split 45k/5k into train/validation (CIFAR10Split, mmrla.datasets:
# the validation images are the last 5,000 in file order, i.e. the second
# half of data_batch_5), the official 10k test images for testing; 4-pixel
# zero padding (mmpretrain's RandomCrop pads with 0), random 32x32 crop and
# horizontal flip, per-channel normalisation; one GPU x 128 images.
# Nothing downloads: unpack cifar-10-python.tar.gz
# (https://www.cs.toronto.edu/~kriz/cifar.html) in data/cifar10, so that
# data/cifar10/cifar-10-batches-py/data_batch_1 exists.
_base_ = 'cifar10_bs128.py'

# The RGB means and standard deviations of the 50k training images, as in
# DenseNet's code, whose recipe the paper follows ([28]); mmpretrain's
# CIFAR-10 std (51.6, 50.8, 51.3) is a widespread figure that is not the
# channels' standard deviation.
data_preprocessor = dict(
    mean=[125.307, 122.961, 113.8575], std=[62.993, 62.089, 66.705])
train_dataloader = dict(dataset=dict(type='CIFAR10Split', split='train'))
val_dataloader = dict(dataset=dict(type='CIFAR10Split', split='val'))
test_dataloader = dict(dataset=dict(type='CIFAR10Split', split='test'))
