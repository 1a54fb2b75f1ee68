from .cifar_split import CIFAR10Split, CIFAR100Split

__all__ = ['CIFAR10Split', 'CIFAR100Split']
