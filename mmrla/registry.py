"""Registries used by mmrla.

mmrla serves both mmpretrain (classification) and mmdet (detection). Both
libraries' ``MODELS`` registries are children of mmengine's root ``MODELS``
and fall back to their parent when a type is not found in their own scope.
Registering mmrla modules in the root registry therefore makes them
buildable from configs of either library, with no ``default_scope`` tricks.
"""
from mmengine.registry import MODELS

__all__ = ['MODELS']
