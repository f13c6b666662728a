"""Errors a user can act on. Every failure sleepmem reports derives from SleepmemError."""


class SleepmemError(Exception):
    """Base class: the message is meant for the person using sleepmem."""


class ConfigError(SleepmemError):
    """A configuration value or file is wrong."""


class ModelError(SleepmemError):
    """A model could not be found, fetched, loaded, or is not supported by the editor."""


class BackendUnavailable(ModelError):
    """The requested backend's packages are not installed."""


class InputError(SleepmemError):
    """A message, command or user id was rejected (empty, too large, malformed)."""


class UnknownFact(SleepmemError):
    """A /forget or API call named a fact the user does not have."""


class EditError(SleepmemError):
    """An edit could not be computed; the user's memory is left as it was."""


class StoreError(SleepmemError):
    """The memory store on disk is unreadable or inconsistent."""


class Interrupted(SleepmemError):
    """Background memory work was stopped (shutdown) before it stored anything."""


class Yielded(Interrupted):
    """Background memory work stopped, storing nothing, so that a request of the same user
    goes first (a forget); it runs again after that request."""
