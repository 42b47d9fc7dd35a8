"""The accelerator description a command estimates on (``--hardware``, config key ``hardware``).

A thin layer over :mod:`energy_models.accelerator`: load a shipped description by name or a
YAML/JSON file, and put another MAC architecture into every PE of it (``quanos run`` estimates
each of its ``mac_architectures`` on the one described accelerator; ``quanos estimate --mac``
replaces the description's MAC).
"""

from __future__ import annotations

from energy_models.accelerator import Accelerator, MacSpec, load_accelerator

from .errors import InputError


def load_hardware(name_or_path: str, what: str) -> Accelerator:
    """The description ``name_or_path`` (a shipped name, see ``quanos list accelerators``, or a
    .yaml/.yml/.json file); an error is one line starting with ``what`` (the flag or config key)."""
    try:
        return load_accelerator(name_or_path)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None


def with_mac(accelerator: Accelerator, architecture: str | None) -> Accelerator:
    """``accelerator`` with every PE's MAC replaced by ``architecture`` (None: unchanged). The
    description's parameter overrides (``mac.params``) belong to its own architecture: they are
    kept when ``architecture`` is that one and dropped otherwise."""
    if architecture is None or architecture == accelerator.mac.architecture:
        return accelerator
    return accelerator.replace(mac=MacSpec(architecture, {}))
