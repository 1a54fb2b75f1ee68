# Shared base of configs/layer_attention/*_4xb64_in1k.py: mmpretrain's
# ImageNet pipeline (random resized crop 224, flip; resize 256 + center crop
# 224 for evaluation), 4 GPUs x 64 images, the paper's 100-epoch Nesterov SGD
# schedule. Leaves add the model.
_base_ = [
    'datasets/imagenet_bs64.py',
    'schedules/imagenet_bs256_100e_nesterov.py',
    'mmpretrain::_base_/default_runtime.py',
    'default_runtime_rla.py',
]

custom_imports = dict(
    imports=['mmrla.models', 'mmrla.engine'], allow_failed_imports=False)
