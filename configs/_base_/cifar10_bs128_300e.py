# Shared base of the RLA-Net CIFAR-10 configs (configs/cifar/): the 45k/5k
# split, the paper's 300-epoch schedule and the runtime, keeping the
# checkpoint with the best validation top-1; test it on the 10k test set
# with tools/test.py. Leaves add a model base.
_base_ = ['datasets/cifar10_split_bs128.py', 'cifar_300e_runtime.py']
