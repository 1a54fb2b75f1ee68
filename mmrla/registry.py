"""Registries used by mmrla.

mmrla serves both mmpretrain (classification) and mmdet (detection). Both
libraries' ``MODELS`` and ``HOOKS`` registries are children of mmengine's
root registries and fall back to their parent when a type is not found in
their own scope. Registering mmrla modules in the root registries therefore
makes them buildable from configs of either library, with no
``default_scope`` tricks.
"""
from mmengine.registry import HOOKS, MODELS

__all__ = ['HOOKS', 'MODELS']
