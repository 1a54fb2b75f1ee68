# RLA-ResNet-164 (k = 12) on CIFAR-10. Paper (Table 2): 1.72M + 0.02M params
# (ours 1.70M + 0.035M = 1.74M, the 1.74M of Tables 11, 13 and 15), 4.95% top-1
# error.
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar10_bs128_300e.py'
]
