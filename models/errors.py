"""Errors a user can act on. The app shows their message as it is, so each says what is wrong."""


class ModelLoadError(ValueError):
    """A model could not be built or loaded from what the user gave."""


class ConfigError(ModelLoadError):
    """A config file that does not parse or does not describe a model we can build."""


class CheckpointError(ModelLoadError):
    """A weights file that cannot be read safely or does not fit the model."""
