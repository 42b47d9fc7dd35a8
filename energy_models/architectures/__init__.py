"""MAC architectures, registered by name."""

from __future__ import annotations

from pathlib import Path

from ..checks import did_you_mean
from ..errors import InputError
from ..registry import Registry
from ..technology import Technology, load_technology
from .base import DATA_FILE, MacArchitecture, load_architecture_params
from .bit_serial import BitSerial
from .bitfusion import BitFusion
from .data_gated import DataGated
from .fixed16 import Fixed16
from .measured import Measured
from .subword_parallel import SubwordParallel

ARCHITECTURES: Registry[type[MacArchitecture]] = Registry("MAC architecture")
for _cls in (Fixed16, DataGated, SubwordParallel, BitFusion, BitSerial, Measured):
    ARCHITECTURES.register(_cls.name)(_cls)


def list_architectures() -> list[str]:
    return ARCHITECTURES.names()


def get_architecture(
    name: str,
    technology: Technology | str | Path = "horowitz45",
    params: dict | str | Path | None = None,
) -> MacArchitecture:
    """Build architecture ``name`` on ``technology``.

    ``params`` overrides the shipped parameters: a dict of this architecture's parameters, or a
    JSON/YAML file mapping architecture names to parameter dicts (keys given there replace the
    shipped ones).
    """
    cls = ARCHITECTURES.get(name)
    tech = technology if isinstance(technology, Technology) else load_technology(technology)
    shipped = load_architecture_params()
    given = params if isinstance(params, dict) else (
        {} if params is None else load_params_file(params, shipped).get(name, {}))
    if name not in shipped and not given:
        raise InputError(f"MAC architecture {name!r} has no entry {name!r} in {DATA_FILE}: add its parameters "
                         f"there (or pass them as architecture parameters)")
    merged = {**shipped.get(name, {}), **given}
    merged.pop("source", None)
    return cls(tech, merged)


def load_params_file(path: str | Path, shipped: dict[str, dict] | None = None) -> dict[str, dict]:
    """A user's architecture parameter file, every entry checked: each key names a registered
    architecture (a misspelling is an error with a suggestion, never silently ignored) and each
    entry, over the shipped parameters, passes that architecture's checks."""
    raw = load_architecture_params(path)
    shipped = load_architecture_params() if shipped is None else shipped
    for arch, entry in raw.items():
        if arch not in ARCHITECTURES:
            raise InputError(f"architecture parameter file {str(path)!r} names unknown MAC architecture {arch!r}"
                             f"{did_you_mean(arch, list_architectures())} (known: {', '.join(list_architectures())})")
        ARCHITECTURES.get(arch).validate_params({**shipped.get(arch, {}), **entry})
    return raw


__all__ = ["ARCHITECTURES", "MacArchitecture", "get_architecture", "list_architectures", "load_params_file"]
