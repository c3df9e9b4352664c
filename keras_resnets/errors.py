"""The errors that mean "what you gave is wrong", told in one line.

`UserError` is the base of every error the package raises for a user's
mistake: a config key or value, a model argument, a data source, a file, a
command-line value. Its message names what was wrong and what is valid, in
one line. The command line (`keras_resnets.cli`) prints these as one line
(exit status 2); every other exception keeps its traceback, since it is a
bug of the package or of a library it calls.

Each subclass is also the built-in error Python code expects (`ValueError`,
`TypeError`, `FileNotFoundError`, `ImportError`), as Keras raises for a bad argument, so
`except ValueError` keeps working. Standard library only: every layer of
the package raises them.
"""


class UserError(Exception):
    """A mistake in what the user gave; the message says what is valid."""


class UserValueError(UserError, ValueError):
    """An invalid value (an unknown name, a number out of range, ...)."""


class UserTypeError(UserError, TypeError):
    """An argument of the wrong type, or one a function does not take."""


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist or holds the wrong thing."""


class MissingExtraError(UserError, ImportError):
    """An optional package a feature needs is not installed; the message
    names the `pip install` that adds it."""
