"""Errors that reach the user as one line: what went wrong, with what, and what to do."""


class SceneWatchError(Exception):
    """An error the CLI prints as one line and exits non-zero on.

    ``hint`` says what to do about it; it is appended after the message.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SourceError(SceneWatchError):
    """A video file or stream could not be opened or read."""


class ModelError(SceneWatchError):
    """A model is missing, corrupt or gives wrong output."""


class ConfigError(SceneWatchError, ValueError):
    """The configuration file is missing or has a wrong value."""
