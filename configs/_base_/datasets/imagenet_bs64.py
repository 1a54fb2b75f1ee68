# mmpretrain's ImageNet-1k pipeline (random resized crop 224 and flip;
# resize 256 and center crop 224 for evaluation), 64 images per GPU, with
# mmpretrain's ClsDataPreprocessor replaced by mmrla's checked one: an image
# whose channels the normalization cannot take (e.g. RGBA) is refused in one
# line instead of failing inside the normalization. The configs that inherit
# this file import mmrla.models (custom_imports), which registers it.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64.py'

data_preprocessor = dict(type='CheckedClsDataPreprocessor')
