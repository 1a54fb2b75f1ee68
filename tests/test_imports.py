"""The package's modules import each other without a cycle, and each one
imports on its own, in a process where no other module of mmrla was
imported first."""
import ast
import os
import os.path as osp
import subprocess
import sys
import textwrap
from typing import Dict, List, Set

import pytest

from tests.fixtures.console import REPO

PACKAGE = osp.join(REPO, 'mmrla')


def package_modules(root: str = PACKAGE) -> Dict[str, str]:
    """``{module name: file}`` of every module and package under ``root``,
    found on disk (without importing anything)."""
    modules = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                parts = osp.relpath(path, osp.dirname(root))[:-3].split(os.sep)
                if parts[-1] == '__init__':
                    parts = parts[:-1]
                modules['.'.join(parts)] = path
    return modules


def imported_modules(module: str, path: str, known: Set[str]) -> Set[str]:
    """The modules of ``known`` that ``module`` imports anywhere in its
    file, at the top or inside a function (a cycle hidden in a function is
    still a cycle)."""
    package = module if path.endswith('__init__.py') else \
        module.rpartition('.')[0]

    def known_prefix(name: str) -> str:
        while name and name not in known:
            name = name.rpartition('.')[0]
        return name

    found = set()
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(known_prefix(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ''
            if node.level:
                parts = package.split('.')
                base = parts[:len(parts) - node.level + 1]
                source = '.'.join(base + ([source] if source else []))
            for alias in node.names:
                # `from pkg import submodule` imports the submodule.
                full = f'{source}.{alias.name}'
                found.add(full if full in known else known_prefix(source))
    found.discard('')
    found.discard(module)
    return found


def import_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan's
    algorithm, iteratively)."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_cycles_are_found():
    # The form of the cycle the package once had: two modules importing
    # each other, one of them inside a function.
    graph = dict(a={'b'}, b={'a', 'c'}, c=set(), d={'d2'}, d2={'e'}, e={'d'})
    assert import_cycles(graph) == [['a', 'b'], ['d', 'd2', 'e']]


def test_relative_and_function_level_imports_are_read(tmp_path):
    package = tmp_path / 'pkg'
    (package / 'sub').mkdir(parents=True)
    (package / '__init__.py').write_text('from .sub import tool\n')
    (package / 'sub' / '__init__.py').write_text('')
    tool = 'def f():\n    from ..other import g\n    import pkg.sub\n'
    (package / 'sub' / 'tool.py').write_text(tool)
    (package / 'other.py').write_text('import os\n')
    modules = package_modules(str(package))
    assert set(modules) == {'pkg', 'pkg.sub', 'pkg.sub.tool', 'pkg.other'}
    assert imported_modules('pkg', modules['pkg'],
                            set(modules)) == {'pkg.sub.tool'}
    assert imported_modules('pkg.sub.tool', modules['pkg.sub.tool'],
                            set(modules)) == {'pkg.other', 'pkg.sub'}


def test_no_import_cycle():
    modules = package_modules()
    graph = {
        name: imported_modules(name, path, set(modules))
        for name, path in modules.items()
    }
    assert 'mmrla.errors' in graph['mmrla.weights']
    assert import_cycles(graph) == []


# What a layer must not import: the models model (no file checks, no
# command-line glue), and the errors sit below everything.
FORBIDDEN = {
    'mmrla.models': ('mmrla.cli', 'mmrla.weights', 'mmrla.converters',
                     'mmrla.engine.safe_load', 'mmrla.apis'),
    'mmrla.datasets': ('mmrla.cli', 'mmrla.weights', 'mmrla.apis'),
    'mmrla.engine': ('mmrla.cli', 'mmrla.weights', 'mmrla.apis'),
    'mmrla.converters': ('mmrla.cli', 'mmrla.weights', 'mmrla.models'),
}


def upward_imports(graph: Dict[str, Set[str]]) -> List[str]:
    """``'importer -> imported'`` for every import that runs against the
    layers: one of ``FORBIDDEN``, or any import of mmrla by
    ``mmrla.errors``."""

    def within(name: str, package: str) -> bool:
        return name == package or name.startswith(package + '.')

    found = []
    for module, imported in sorted(graph.items()):
        banned = [
            b for layer, names in FORBIDDEN.items() if within(module, layer)
            for b in names
        ]
        for name in sorted(imported):
            if module == 'mmrla.errors' or any(
                    within(name, b) for b in banned):
                found.append(f'{module} -> {name}')
    return found


def test_upward_imports_are_found():
    graph = {
        'mmrla.models.backbones.base': {'mmrla.weights', 'mmrla.registry'},
        'mmrla.errors': {'mmrla.registry'},
        'mmrla.cli.runner': {'mmrla.models', 'mmrla.errors'},
    }
    assert upward_imports(graph) == [
        'mmrla.errors -> mmrla.registry',
        'mmrla.models.backbones.base -> mmrla.weights'
    ]


def test_no_import_runs_up_the_layers():
    modules = package_modules()
    graph = {
        name: imported_modules(name, path, set(modules))
        for name, path in modules.items()
    }
    assert graph['mmrla.errors'] == set()
    assert upward_imports(graph) == []


# Imports the libraries under mmrla once, then imports each module of mmrla
# in a forked child that starts without any module of mmrla (and without
# their registrations), and prints the modules that failed.
_EACH_ON_ITS_OWN = textwrap.dedent('''
    import os, sys, traceback
    import torch, mmengine.runner, mmcv.ops, mmdet.models, mmpretrain.models
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                __import__(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            failed.append(name)
    print('failed:', *failed)
''')


@pytest.mark.slow
def test_every_module_imports_on_its_own():
    names = sorted(package_modules())
    assert len(names) > 40 and 'mmrla.models.backbones' in names
    proc = subprocess.run([sys.executable, '-c', _EACH_ON_ITS_OWN, *names],
                          cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ['failed:'], proc.stderr[-3000:]
