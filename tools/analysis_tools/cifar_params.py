"""Parameters and FLOPs of the RLA-Net CIFAR configs beside the paper's.

The ``cifar`` family of ``tools/analysis_tools/paper_tables.py`` (Tables 1,
2, 11, 13 and 15): the same arguments and table as
``paper_tables.py --family cifar``.

Example:
    python tools/analysis_tools/cifar_params.py
    python tools/analysis_tools/cifar_params.py \\
        configs/cifar/r110_b128_cifar10.py \\
        configs/cifar/r110rla_b128_cifar10.py
"""
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from tools.analysis_tools.paper_tables import main as _main  # noqa: E402


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return _main(argv + ['--family', 'cifar'])


if __name__ == '__main__':
    sys.exit(main())
