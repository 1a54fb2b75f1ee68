"""Parameter counts of the layer-attention configs beside the paper's.

The ``layer-attention`` family of ``tools/analysis_tools/paper_tables.py``
(the layer-attention paper's Tables 1-3): the same arguments and table as
``paper_tables.py --family layer-attention``.

Example:
    python tools/analysis_tools/layer_attention_params.py
    python tools/analysis_tools/layer_attention_params.py \\
        configs/layer_attention/la-resnet56_b128_cifar10.py
"""
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from tools.analysis_tools.paper_tables import main as _main  # noqa: E402


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return _main(argv + ['--family', 'layer-attention'])


if __name__ == '__main__':
    sys.exit(main())
