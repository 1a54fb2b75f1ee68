"""The error a tool reports to the user in one line.

This module imports nothing of mmrla, so that every other module can raise
:class:`UserError` without importing the modules that check the input;
:func:`mmrla.cli.main_entry` prints it.
"""


class UserError(Exception):
    """A mistake in the user's input; tools print it without a traceback."""
