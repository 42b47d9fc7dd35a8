"""Shared machinery of the MAC architecture models.

Each architecture is a small class over arrays of (weight bits, activation bits) that returns
energy per MAC (pJ) and MACs per cycle of one unit. Its parameters live in
``energy_models/data/architectures.json`` (or a user file); the technology table provides the
energy of the arithmetic. ``act_bits`` here is the precision of the activation *operand* of the
multiplier, i.e. of the layer's input activations.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import InputError
from ..technology import Technology

#: The shipped parameters of every registered architecture (one entry per architecture name).
DATA_FILE = "energy_models/data/architectures.json"


class MacArchitecture(ABC):
    """Base class. Subclasses set ``name``, ``PARAMS`` (name -> type) and the two array methods."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, type]] = {}

    def __init__(self, technology: Technology, params: dict) -> None:
        self.technology = technology
        self.params = self._validate(params)

    def _validate(self, params: dict) -> dict:
        extra = sorted(set(params) - set(self.PARAMS) - {"source"})
        if extra:
            raise InputError(f"architecture {self.name!r}: unknown parameter(s) {extra}; known: {sorted(self.PARAMS)}")
        out = {}
        for key, typ in self.PARAMS.items():
            if key not in params:
                raise InputError(f"architecture {self.name!r}: missing parameter {key!r}")
            value = params[key]
            if typ is int and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise InputError(f"architecture {self.name!r}: {key} must be a positive integer, got {value!r}")
            if typ is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise InputError(f"architecture {self.name!r}: {key} must be a number >= 0, got {value!r}")
            if typ is list and (not isinstance(value, list) or not value or
                                not all(isinstance(v, int) and v > 0 for v in value)):
                raise InputError(f"architecture {self.name!r}: {key} must be a list of positive integers")
            if typ is str and not isinstance(value, str):
                raise InputError(f"architecture {self.name!r}: {key} must be a string")
            out[key] = sorted(value) if typ is list else value
        return out

    @property
    def units(self) -> int:
        """Number of MAC units in the array (only used for cycle counts)."""
        return self.params["units"]

    def full_precision_mac_pj(self, bits: int = 16) -> float:
        """Energy of one bits x bits multiply plus one accumulator add."""
        t = self.technology
        return float(t.mult_energy_pj(bits, bits) + t.add_energy_pj(self.params["accumulator_bits"]))

    @abstractmethod
    def energy_per_mac_pj(self, weight_bits: np.ndarray, act_bits: np.ndarray) -> np.ndarray:
        """Energy of one MAC (pJ) at each (weight bits, activation-operand bits)."""

    @abstractmethod
    def macs_per_cycle(self, weight_bits: np.ndarray, act_bits: np.ndarray) -> np.ndarray:
        """MACs one unit completes per cycle at each (weight bits, activation-operand bits)."""


def smallest_mode(bits: np.ndarray, modes: list[int]) -> np.ndarray:
    """Smallest supported mode >= bits, element-wise (modes sorted ascending)."""
    modes_arr = np.asarray(modes)
    bits = np.asarray(bits)
    index = np.searchsorted(modes_arr, bits, side="left")
    if np.any(index >= len(modes_arr)):
        raise InputError(f"bit-width {int(bits.max())} exceeds the largest supported mode {modes_arr[-1]}")
    return modes_arr[index]


def load_architecture_params(path: str | Path | None = None) -> dict[str, dict]:
    """The shipped parameters, or a user JSON/YAML file of ``{architecture: {param: value}}``."""
    if path is None:
        text = resources.files("energy_models").joinpath(*DATA_FILE.split("/")[1:]).read_text()
        return json.loads(text)
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"architecture parameter file {str(path)!r} does not exist") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is bad input
        message = f"architecture parameter file {str(path)!r} cannot be parsed: {exc}"
        raise InputError(message.replace("\n", " ")) from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise InputError(f"architecture parameter file {str(path)!r} must map names to parameter objects")
    return raw
