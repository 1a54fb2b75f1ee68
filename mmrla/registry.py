"""Registries used by mmrla.

mmrla serves both mmpretrain (classification) and mmdet (detection). Both
libraries' ``MODELS``, ``HOOKS`` and ``DATASETS`` registries are children
of mmengine's root registries and fall back to their parent when a type is
not found in their own scope. Registering mmrla modules in the root
registries therefore makes them buildable from configs of either library,
with no ``default_scope`` tricks.

mmdet 3.x defines no "function" registry of its own, yet mmengine's
``BaseInferencer``, which mmdet's ``DetInferencer`` extends, looks its
collate function up in the "function" registry of the inferencer's scope.
Finding no registry of scope ``mmdet`` there, mmengine warns "Failed to
search registry with scope "mmdet" in the "function" registry tree" and
falls back to its root registry. mmrla adds that missing child: it holds
nothing and answers from its parent, the same functions, so the lookup
succeeds as before, without the warning.
"""
import importlib

from mmengine.registry import DATASETS, FUNCTIONS, HOOKS, MODELS, Registry

__all__ = ['DATASETS', 'HOOKS', 'MODELS']


def _add_function_registry(scope: str) -> None:
    """Give package ``scope`` an empty "function" registry, unless it has
    one (or is not installed)."""
    try:
        # The package's own registries come first, should it define one.
        importlib.import_module(f'{scope}.registry')
    except ImportError:
        return
    if scope not in FUNCTIONS.children:
        # Where the collate functions it serves from its parent register.
        Registry(
            'function',
            parent=FUNCTIONS,
            scope=scope,
            locations=['mmengine.dataset'])


_add_function_registry('mmdet')
