"""Time PyTorch's tanh against its sigmoid on a CPU tensor.

RLA applies tanh to its hidden state in every block. PyTorch's CPU tanh
kernel runs several times slower than its sigmoid kernel, so deployed RLA
models compute ``tanh(x)`` as ``2 * sigmoid(2x) - 1`` for CPU inference
(``mmrla.models.utils._fast_ops.fast_tanh_``). This prints the two times,
their ratio (the figure the README quotes) and how far the sigmoid form is
from tanh on the same tensor.

Example:
    python tools/analysis_tools/tanh_vs_sigmoid.py
    python tools/analysis_tools/tanh_vs_sigmoid.py --shape 1 32 56 56 \\
        --threads 1
"""
import argparse
import sys
import timeit
from typing import Dict, List, Optional

import torch


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time torch.tanh against torch.sigmoid on CPU and '
        'print the ratio (the README quotes it for a batch-16 hidden state '
        'of RLA-ResNet-50\'s first stage).')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[16, 32, 56, 56],
        help='tensor shape (default: 16 32 56 56)')
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='torch threads (default: 2, the development machine\'s cores)')
    parser.add_argument(
        '--number',
        type=int,
        default=50,
        help='calls per timing; the best of 5 timings counts (default: 50)')
    return parser.parse_args(argv)


def compare(shape: List[int], number: int) -> Dict[str, float]:
    """Seconds per call of tanh and sigmoid (the best of 5 timings of
    ``number`` calls), their ratio, and the largest difference between
    ``2 * sigmoid(2x) - 1`` and ``tanh(x)``.

    Example:
        >>> result = compare([4, 8], number=2)
        >>> sorted(result)
        ['max_abs_diff', 'ratio', 'sigmoid_s', 'tanh_s']
        >>> result['max_abs_diff'] < 1e-6
        True
    """
    x = torch.randn(*shape)

    def best(fn) -> float:
        # The fastest of 5 timings: other processes only ever add time.
        return min(timeit.repeat(fn, number=number, repeat=5)) / number

    with torch.no_grad():
        tanh, sigmoid = best(lambda: torch.tanh(x)), best(
            lambda: torch.sigmoid(x))
        diff = (2 * torch.sigmoid(2 * x) - 1 - torch.tanh(x)).abs().max()
    return dict(
        tanh_s=tanh,
        sigmoid_s=sigmoid,
        ratio=tanh / sigmoid,
        max_abs_diff=float(diff))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if any(s < 1 for s in args.shape) or args.threads < 1 or args.number < 1:
        print(
            'error: --shape, --threads and --number must be positive.',
            file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    result = compare(args.shape, args.number)
    print(f'tensor {tuple(args.shape)}, float32, {args.threads} threads, '
          f'best of 5 x {args.number} calls, torch {torch.__version__}')
    print(f'tanh:    {result["tanh_s"] * 1e3:.3f} ms')
    print(f'sigmoid: {result["sigmoid_s"] * 1e3:.3f} ms')
    print(f'tanh / sigmoid: {result["ratio"]:.1f}x')
    print('max |2 sigmoid(2x) - 1 - tanh(x)|: '
          f'{result["max_abs_diff"]:.1e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
