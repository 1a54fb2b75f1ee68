"""Markdown output of the table tools (parameter counts beside the
paper's)."""
from typing import Iterable, List, Sequence


def markdown_table(header: Sequence[str],
                   rows: Iterable[Sequence[object]]) -> List[str]:
    """The lines of a Markdown table.

    Args:
        header (Sequence[str]): Column titles.
        rows (Iterable[Sequence]): One sequence of cells per row, as many
            as titles; cells are printed with ``str``.

    Returns:
        list[str]: The header line, the separator and one line per row.

    Example:
        >>> print('\\n'.join(markdown_table(['model', 'params'],
        ...                                 [['r110', '1.73M']])))
        | model | params |
        |---|---|
        | r110 | 1.73M |
    """
    lines = [_line(header), '|' + '---|' * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f'A row of {len(row)} cells for {len(header)} '
                             f'columns: {row}')
        lines.append(_line(row))
    return lines


def _line(cells: Sequence[object]) -> str:
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'
