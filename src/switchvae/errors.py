"""Exceptions that carry a message meant for the user.

The command line turns any :class:`SwitchVAEError` into one line on stderr and a non-zero
exit code; library code raises them and never exits the process.
"""


class SwitchVAEError(Exception):
    """Base class: a problem the user can fix (bad input, bad option, missing file)."""


class DataError(SwitchVAEError, ValueError):
    """A data file or array is unusable: what was wrong, and where."""


class ConfigError(SwitchVAEError, ValueError):
    """A configuration value or command-line option is invalid."""
