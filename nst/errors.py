"""Errors meant for the user: the CLI prints their message on one line, without a traceback.

Every error the project raises for a user's mistake (a bad setting, a missing or unreadable file)
is an NSTError defined here; anything else that reaches the CLI is a bug and shows its traceback.
Those that are also ValueErrors (or FileNotFoundError) stay catchable as such by callers that
predate them.
"""


class NSTError(Exception):
    """Base class of every error whose message is the whole story for the user."""


# --- one run (nst/run) ---------------------------------------------------------------------
class ParamsError(NSTError, ValueError):
    """A run parameter with a value that is not allowed; the message names the key."""


class ImageError(NSTError, ValueError):
    """An image file that cannot be used; the message names the file."""


class WeightsError(NSTError):
    """VGG-19 weights that are missing, unverifiable or do not fit the network."""


class OutputError(NSTError):
    """An output that cannot be written (disk full, a file where a folder should be, a finished
    run in the way); the message names the path."""


class EvaluationError(NSTError, ValueError):
    """A bad `evaluation:` setting; the message names the key."""


class InputError(NSTError):
    """Input the user named that cannot be read: a file (missing, a folder, unreadable) or JSON
    (in a file or an argument) that does not parse or has the wrong shape; the message says which."""


# --- a study (nst/study) -------------------------------------------------------------------
class PlanError(NSTError, ValueError):
    """A config that cannot be planned; the message names the key."""


class AggregateError(NSTError, ValueError):
    """A manifest or a set of runs that cannot be tabulated; the message says which and why."""


class MissingRunError(NSTError, FileNotFoundError):
    """A run the manifest names has no run.json."""


class ClaimsError(NSTError, ValueError):
    """A claims file (config key `claims`) that cannot be read or checked; the message names the
    file and the key."""
