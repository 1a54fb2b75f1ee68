# RLA-ResNet-164 (k = 12) on CIFAR-100. Paper (Table 2): 1.74M + 0.02M params
# (ours 1.73M + 0.036M = 1.76M), 23.78% top-1 error.
_base_ = [
    '../_base_/models/preact_resnet_cifar.py',
    '../_base_/cifar100_bs128_300e.py'
]

model = dict(head=dict(num_classes=100))
