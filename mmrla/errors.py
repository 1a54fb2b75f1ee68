"""The error a tool reports to the user in one line, and the wrapper that
reports it.

This module imports nothing of mmrla, so that every other module can raise
:class:`UserError` without importing the modules that check the input.
"""
import functools
import sys
from typing import Callable


class UserError(Exception):
    """A mistake in the user's input; tools print it without a traceback."""


def main_entry(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a tool's ``main``: a :class:`UserError` it raises becomes
    one line ``error: ...`` on stderr and the exit status 2 (argparse's
    status for a bad command line).

    Example:
        >>> @main_entry
        ... def main(argv=None):
        ...     raise UserError('--shape must be positive, got [-1].')
        >>> import contextlib, io
        >>> err = io.StringIO()
        >>> with contextlib.redirect_stderr(err):
        ...     status = main()
        >>> status, err.getvalue()
        (2, 'error: --shape must be positive, got [-1].\\n')
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except UserError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2

    return wrapper
