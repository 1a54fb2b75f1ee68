# ResNet-164 (channel + 12) on CIFAR-10, ablation (a) of Table 11 (Table 12):
# the plain pre-activation ResNet-164 with 12 more output channels in every
# stage (76/140/268; bottleneck middle widths 19/35/67), as
# configs/ablations/r50_channel32_4xb64_in1k.py widens ResNet-50 on ImageNet.
# Paper: 1.93M params, 5.27% error.
_base_ = '../r164_b128_cifar10.py'

model = dict(backbone=dict(extra_channels=12), head=dict(in_channels=256 + 12))
