# ECA-ResNet-152 (ECA-Net, no RLA; kernel sizes (5, 5, 5, 7) per stage), the
# "+ECA" baseline of RLA-Net's Tables 3 and 14, with RLA-ResNet's recipe:
# 4 GPUs x 64 images, SGD lr 0.1 (x0.1 every 30 epochs), 120 epochs.
_base_ = './r152rla_4xb64_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ECAResNet',
        depth=152,
        eca_kernel_sizes=(5, 5, 5, 7),
        out_indices=(3, )),
    head=dict(in_channels=2048))
