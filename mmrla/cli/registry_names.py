"""Names that configs can use, for the one-line "did you mean" of the
config checks."""
import difflib
import importlib
from typing import Iterable, List, Optional

from mmengine.registry import Registry


def close_matches(name: str,
                  candidates: Iterable[str],
                  n: int = 3) -> List[str]:
    """The candidates closest to ``name``, ignoring case."""
    by_lower = {c.lower(): c for c in candidates}
    return [
        by_lower[c] for c in difflib.get_close_matches(
            name.lower(), list(by_lower), n=n, cutoff=0.7)
    ]


def quoted(names: Iterable[str]) -> str:
    """``"a", "b"``: names for a message."""
    return ', '.join(f'"{n}"' for n in names)


def scope_registry(scope: str, name: str) -> Optional[Registry]:
    """The registry called ``name`` of package ``scope`` (e.g. mmdet's
    ``MODELS`` for ``('mmdet', 'model')``), if it can be found."""
    try:
        module = importlib.import_module(f'{scope}.registry')
    except ImportError:
        return None
    # The module also imports mmengine's registries, under other names.
    for value in vars(module).values():
        if isinstance(value, Registry) and value.name == name and \
                value.scope == scope:
            return value
    return None


def registered_names(registry: Registry) -> List[str]:
    """Every type ``registry`` builds: its own and its ancestors'."""
    names: List[str] = []
    while registry is not None:
        registry.import_from_location()  # registries fill up lazily
        names += list(registry.module_dict)
        registry = registry.parent
    return names
