"""Exception types of quanos_hw. Every bad-input error derives from :class:`InputError`."""

from energy_models.errors import InputError
from energy_models.registry import UnknownNameError

__all__ = [
    "InputError",
    "UnknownNameError",
    "BitConfigError",
    "ConfigError",
    "DatasetError",
    "CheckpointError",
    "ModelError",
    "TrainingDivergedError",
    "DiskFullError",
    "WorkspaceError",
]


class BitConfigError(InputError):
    """A bit configuration that does not fit the model (names, types, range)."""


class ConfigError(InputError):
    """A run configuration with an unknown key, a wrong type or a value out of range."""


class DatasetError(InputError):
    """A dataset that is unknown, missing on disk, corrupt or empty."""


class CheckpointError(InputError):
    """A checkpoint that is corrupt, foreign, unsafe, or from a different configuration."""


class ModelError(InputError):
    """A model that cannot be built, converted or loaded: an unknown torchvision name, a factory that
    is missing, raises or returns no nn.Module, a layer that cannot be quantized, weights of another
    architecture."""


class DiskFullError(InputError):
    """The disk (or the quota) is full while writing a file; nothing half-written is left.

    An InputError, so the CLI reports it as one line with exit code 2: the user's environment
    must change (free space), not the program."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class WorkspaceError(InputError):
    """A results folder that is in use by another command, holds another run, or whose files do
    not match the content hashes recorded when they were written."""
