"""Errors a user can act on: the CLI prints them as one line, without a traceback."""


class BuildError(Exception):
    """A problem with the user's input or setup, explained in one line."""


class ConfigError(BuildError):
    """The config (file, --set values or flags) is invalid; raised before any work starts."""
