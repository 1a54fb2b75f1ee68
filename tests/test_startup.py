"""``import mmrla`` registers mmrla's own things and replaces nothing of
another library; the tools switch mmengine's loaders to weights-only
themselves."""
import subprocess
import sys
import textwrap

from tests.fixtures.tiny_imagenet import REPO


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_mmrla_replaces_nothing_and_registers_its_own_things():
    out = _run("""
        import warnings
        import mmengine.runner.checkpoint as c
        import mmpretrain.apis, torch
        schemes = dict(c.CheckpointLoader._schemes)
        # Other libraries' imports may move a filter of theirs to the front.
        filters = sorted(map(repr, warnings.filters))
        allowed = list(torch.serialization.get_safe_globals())
        import mmrla
        assert c.CheckpointLoader._schemes == schemes
        assert sorted(map(repr, warnings.filters)) == filters
        added = [g for g in torch.serialization.get_safe_globals()
                 if g not in allowed]
        from mmengine.logging import HistoryBuffer
        assert HistoryBuffer in added, added
        print(mmpretrain.apis.ModelHub.has('rla-resnet50_4xb64_in1k'))
        """)
    assert out.split() == ['True']


def test_a_tool_loads_weights_only_from_its_start():
    out = _run("""
        import mmengine.runner.checkpoint as c
        from mmrla.cli import main_entry
        from mmrla.engine import safe_load

        @main_entry
        def main():
            loaders = set(c.CheckpointLoader._schemes.values())
            print(loaders <= set(safe_load.SCHEMES.values()))
            return 0

        assert c.CheckpointLoader._get_checkpoint_loader('x.pth') is not \\
            safe_load.load_from_local
        main()
        """)
    assert out.split() == ['True']
