"""Errors a user can cause: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Something the user can fix (config, missing model, bad file). The message says how."""

    exit_code = 2


class ConfigError(UserError):
    """A profile, agent spec or override is wrong."""


class ModelMissingError(UserError):
    """A model a profile needs is not present and cannot be obtained here."""


class ConfigWarning(UserWarning):
    """A file or variable was ignored or replaced; the CLI prints it as one line and goes on."""


class PartFailure(Exception):
    """A part failed in a way it can tell the user itself: `apology` is the one sentence."""

    @property
    def apology(self) -> str:
        return str(self)
