"""Argument checks shared by the RLA backbones."""
from typing import Sequence, Tuple, Union


def check_out_indices(out_indices: Union[int, Sequence[int]], num_outputs: int,
                      valid: str) -> Tuple[int, ...]:
    """Validate ``out_indices`` and normalize them (sorted, non-negative).

    Args:
        out_indices (int | Sequence[int]): Requested output indices (a
            tuple, list or range); negatives count from the end.
        num_outputs (int): Number of selectable outputs.
        valid (str): What the valid values mean, for the error message.

    Raises:
        ValueError: For an empty selection or an index out of range.

    Example:
        >>> check_out_indices((-1, 0), 4, 'stages')
        (0, 3)
    """
    if isinstance(out_indices, int):
        out_indices = (out_indices, )
    if isinstance(out_indices, range):  # mmpretrain accepts any sequence
        out_indices = tuple(out_indices)
    if not isinstance(out_indices, (tuple, list)) or not out_indices:
        raise ValueError('out_indices must be a non-empty sequence (tuple, '
                         f'list or range) of ints, got {out_indices!r}.')
    for index in out_indices:
        if not isinstance(index, int) or \
                not -num_outputs <= index < num_outputs:
            raise ValueError(
                f'out_indices {tuple(out_indices)} has {index!r}, out of '
                f'range: {valid}.')
    return tuple(sorted({index % num_outputs for index in out_indices}))


def check_choice(value, choices: Sequence, name: str) -> None:
    """Raise a ValueError naming ``name`` and the ``choices`` unless
    ``value`` is one of them.

    Example:
        >>> check_choice('mean', ('gap', 'gmp'), 'context')
        Traceback (most recent call last):
        ...
        ValueError: context must be one of ('gap', 'gmp'), got 'mean'.
    """
    if value not in choices:
        raise ValueError(f'{name} must be one of {choices}, got {value!r}.')


def check_positive_int(value, name: str, hint: str) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an int > 0.

    Example:
        >>> check_positive_int(0, 'rla_channel', 'the paper uses 32')
        Traceback (most recent call last):
        ...
        ValueError: rla_channel must be a positive integer, got 0; the paper uses 32.
    """  # noqa: E501
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f'{name} must be a positive integer, got {value!r}; {hint}.')
