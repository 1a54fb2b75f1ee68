"""The command line of the shapes generator (the generator itself is
tested in tests/test_datasets/test_synthetic/test_shapes.py)."""
import json

import pytest

from tools.dataset_converters.generate_shapes import main


def test_cli_rejects_tiny_images(tmp_path):
    with pytest.raises(SystemExit, match='--size must be >= 64'):
        main([str(tmp_path), '--size', '32'])


def test_cli_writes_dataset(tmp_path, capsys):
    main([str(tmp_path), '--num-train', '2', '--num-val', '1'])
    with open(tmp_path / 'annotations' / 'instances_val.json') as f:
        assert len(json.load(f)['images']) == 1
    assert 'Wrote 2 train and 1 val images' in capsys.readouterr().out
