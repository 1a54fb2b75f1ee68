# Pre-activation ResNet-164 (bottlenecks, no RLA) on CIFAR-10. Paper (Table 2):
# 1.72M params (ours 1.70M; see the docstring of
# mmrla/models/backbones/rla_preact_resnet.py), 5.72% top-1 error
# (re-implemented).
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar10_bs128_300e.py'
]

model = dict(backbone=dict(with_rla=False), head=dict(in_channels=256))
