# RLA-MobileNetV2 on ImageNet-1k with the paper's recipe: 2 GPUs x 48 images,
# SGD lr 0.045 (x0.98 every epoch), weight decay 4e-5, 400 epochs.
_base_ = [
    '_base_/models/mobilenetv2rla.py',
    '_base_/datasets/imagenet_bs64.py',
    '_base_/schedules/rla_mobilenetv2_bs96_400e.py',
    'mmpretrain::_base_/default_runtime.py',
    '_base_/default_runtime_rla.py',
]

train_dataloader = dict(batch_size=48)
val_dataloader = dict(batch_size=48)
test_dataloader = dict(batch_size=48)
