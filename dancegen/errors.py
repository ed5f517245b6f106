"""User-facing errors: the CLI prints the message as one line and exits with ``exit_code`` (no traceback)."""

from __future__ import annotations


class DancegenError(Exception):
    """A bad input or environment the user can fix; the message says how."""

    exit_code: int = 2


class MissingWeightsError(DancegenError):
    """Model weights are neither at a user path nor in the cache, and cannot be downloaded."""


class DataError(DancegenError):
    """A data set directory, file or array is missing or malformed."""


class UnsafeFileError(DancegenError):
    """A file or path a user was given is refused because following it could run code or leave its folder."""


class DancegenWarning(UserWarning):
    """Something the user should know that does not stop the command; the CLI prints it as one ``warning:`` line."""
