"""Errors a user can fix: the CLI prints their message on one line, with no traceback; and
`printable`, which keeps a user-supplied name in a message, a log line or a report on its line."""


class CxrganError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class UnreadableImage(CxrganError):
    """One file could not be decoded; the message says why. Skipped, never fatal alone."""


def printable(text: object) -> str:
    """`text` with every character that str.isprintable() refuses written as repr() writes it.

    A file name may hold a newline (which would print a line of its own, e.g. a forged
    "completed" line in train.log), a terminal escape sequence, a bidi override or an
    undecodable byte (os.fsdecode's lone surrogates): they print as `\\n`, `\\x1b`, `\\u202e`,
    `\\udcff`. Printable text, non-ASCII letters included, is returned unchanged.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
