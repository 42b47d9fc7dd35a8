"""The one exception type for bad user input, shared by energy_models and quanos_hw.

The CLI maps it to exit code 2 and prints its message as one line; anything else is a bug or
an environment failure (exit code 1).
"""


class InputError(ValueError):
    """Bad user input: an unknown name, a malformed file, a value out of range."""
