"""Shared machinery of the MAC architecture models.

Each architecture is a small class over arrays of (weight bits, activation bits) that returns
energy per MAC (pJ) and MACs per cycle of one unit. Its parameters live in
``energy_models/data/architectures.json`` (or a user file); the technology table provides the
energy of the arithmetic. ``act_bits`` here is the precision of the activation *operand* of the
multiplier, i.e. of the layer's input activations.

Every architecture also says at which CMOS node its energies hold (``node_nm``: the technology
table's node for the analytic models) and the area of one unit (``area_um2`` at ``area_node_nm``,
parameters with their sources in the data file), for an accelerator model to scale and add up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..checks import (
    MAX_AREA_UM2,
    MAX_CLOCK_MHZ,
    MAX_NODE_NM,
    MAX_OPERAND_BITS,
    MAX_OVERHEAD_FRACTION,
    MAX_UNITS,
    MIN_NODE_NM,
    check_int,
    check_real,
    did_you_mean,
)
from ..errors import InputError
from ..safe_io import load_json_strict, load_yaml_strict, read_input_text
from ..technology import Technology

#: parameter name -> (low, high) bounds; integer parameters not listed are bit-widths in [1, MAX_OPERAND_BITS]
PARAM_BOUNDS: dict[str, tuple[float, float]] = {"units": (1, MAX_UNITS),
                                                "overhead_fraction": (0.0, MAX_OVERHEAD_FRACTION),
                                                "area_um2": (1e-3, MAX_AREA_UM2),
                                                "area_node_nm": (MIN_NODE_NM, MAX_NODE_NM),
                                                "clock_mhz": (1, MAX_CLOCK_MHZ)}

#: The shipped parameters of every registered architecture (one entry per architecture name).
DATA_FILE = "energy_models/data/architectures.json"


class MacArchitecture(ABC):
    """Base class. Subclasses set ``name``, ``PARAMS`` (name -> type) and the two array methods."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, type]] = {}

    def __init__(self, technology: Technology, params: dict) -> None:
        self.technology = technology
        self.params = self.validate_params(params)

    @classmethod
    def validate_params(cls, params: dict) -> dict:
        """``params`` checked against ``PARAMS`` and the physical bounds (PARAM_BOUNDS; integers are
        bit-widths unless listed there); returns the normalised parameters (lists sorted)."""
        where = f"architecture {cls.name!r}"
        extra = sorted(set(params) - set(cls.PARAMS) - {"source"})
        if extra:
            hint = did_you_mean(extra[0], sorted(cls.PARAMS))
            raise InputError(f"{where}: unknown parameter(s) {extra}{hint} (known: {sorted(cls.PARAMS)})")
        out = {}
        for key, typ in cls.PARAMS.items():
            if key not in params:
                raise InputError(f"{where}: missing parameter {key!r}")
            value = params[key]
            low, high = PARAM_BOUNDS.get(key, (1, MAX_OPERAND_BITS))
            if typ is int:
                check_int(value, f"{where}: {key}", low, high)
            elif typ is float:
                check_real(value, f"{where}: {key}", low, high)
            elif typ is list:
                if not isinstance(value, list) or not value:
                    raise InputError(f"{where}: {key} must be a list of positive integers")
                for v in value:
                    check_int(v, f"{where}: {key} entry", low, high)
            elif typ is str and not isinstance(value, str):
                raise InputError(f"{where}: {key} must be a string")
            out[key] = sorted(value) if typ is list else value
        return out

    @property
    def units(self) -> int:
        """Number of MAC units in the array (only used for cycle counts)."""
        return self.params["units"]

    @property
    def node_nm(self) -> float | None:
        """The CMOS node (nm) at which this architecture's energies hold: its technology table's
        node (None when the table does not say)."""
        return self.technology.node_nm

    @property
    def area_um2(self) -> float:
        """Area (um^2) of one unit at ``area_node_nm``: the ``area_um2`` parameter."""
        return float(self._area_param("area_um2"))

    @property
    def area_node_nm(self) -> float:
        """The CMOS node (nm) at which ``area_um2`` holds: the ``area_node_nm`` parameter."""
        return float(self._area_param("area_node_nm"))

    def _area_param(self, key: str) -> float:
        if key not in self.params:
            raise InputError(f"architecture {self.name!r} has no parameter {key!r}: give it with its source")
        return self.params[key]

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
    """The shipped parameters, or a user JSON/YAML file of ``{architecture: {param: value}}`` (read
    strictly: a regular UTF-8 file of bounded size; duplicate keys, NaN and Infinity are errors)."""
    if path is None:
        text = resources.files("energy_models").joinpath(*DATA_FILE.split("/")[1:]).read_text()
        return load_json_strict(text, DATA_FILE)
    path = Path(path)
    text = read_input_text(path, "architecture parameter file")
    origin = f"architecture parameter file {str(path)!r}"
    raw = load_yaml_strict(text, origin) if path.suffix in (".yaml", ".yml") else load_json_strict(text, origin)
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise InputError(f"{origin} must map names to parameter objects")
    return raw
