"""Errors a user can act on. The app shows their message as it is, so each says what is wrong."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """A model could not be built or loaded from what the user gave.

    `headline`: what is wrong in a sentence; `details`: what backs it up, too long to lead with
    (e.g. the tensors that do not fit), or "". The message is both, as the command line prints it;
    the app shows the headline and folds the details away.
    """

    def __init__(self, headline: str, details: str = ""):
        super().__init__(f"{headline} {details}" if details else headline)
        self.headline, self.details = headline, details

    def __reduce__(self):  # pickled (e.g. from a child process) with both parts
        return type(self)._rebuilt, (type(self), self.headline, self.details)

    @staticmethod
    def _rebuilt(kind, headline: str, details: str) -> ModelLoadError:
        error = kind.__new__(kind)
        ModelLoadError.__init__(error, headline, details)
        return error


class ConfigError(ModelLoadError):
    """A config file that does not parse or does not describe a model we can build."""


class CheckpointError(ModelLoadError):
    """A weights file that cannot be read safely or does not fit the model."""
