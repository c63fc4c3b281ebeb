"""Errors a user can fix: the CLI prints their message on one line, with no traceback."""


class CxrganError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class UnreadableImage(CxrganError):
    """One file could not be decoded; the message says why. Skipped, never fatal alone."""
