"""Errors meant for the user: the CLI prints their message on one line, without a traceback."""


class NSTError(Exception):
    """Base class of every error whose message is the whole story for the user."""


class ImageError(NSTError, ValueError):
    """An image file that cannot be used; the message names the file."""


class WeightsError(NSTError):
    """VGG-19 weights that are missing, unverifiable or do not fit the network."""


class ParamsError(NSTError, ValueError):
    """A run parameter with a value that is not allowed; the message names the key."""


class OutputError(NSTError):
    """An output that cannot be written (disk full, a file where a folder should be, a finished
    run in the way); the message names the path."""
