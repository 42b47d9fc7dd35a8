"""Measured MAC arrays: energy per MAC looked up in 28 nm measurements.

Model (E. M. Ibrahim, L. Mei, M. Verhelst, "Taxonomy and Benchmarking of Precision-Scalable MAC
Arrays under Enhanced DNN Dataflow Representation", IEEE TCAS-I 69(5), 2022, arXiv:2108.04773;
their measurements transcribed into ``energy_models/data/psma28.json`` by
``tools/psma_convert.py``). Each design (``design``: bitfusion, bitblade, loom, swu_sum_apart,
swu_sum_together) was measured at 1000 and 200 MHz (``clock_mhz``) in the modes ``AxW``
(activation bits x weight bits) 8x8, 8x4, 8x2, 4x4 and 2x2; the subword-unrolled (swu_*) designs
in 8x8, 4x4 and 2x2 only. One operation is a multiplication or an addition, so one MAC is two
operations and, in each measured mode,

    E_mode = ops_per_mac * energy_fj_per_op / 1000 pJ,   macs_per_cycle_mode = ops_per_cycle / ops_per_cycle(8x8)

Operands of at most 8 bits run in the cheapest measured mode that holds both (each operand rounded
up to a measured width: 3 -> 4, 5 -> 8). For every shipped design a measured mode is itself the
cheapest mode that holds it, so a measured point reads back its own energy; a combination that was
not measured runs in a wider mode (an 8-bit activation with a 4-bit weight on a swu design runs as
8x8; a 4-bit activation with an 8-bit weight runs as 8x8 on every design, since only 8-bit
activations were measured against narrower weights). Wider operands are composed over time as
BitFusion does: each operand is cut into ceil(b / 8) slices of 8 bits, every pair of slices is one
pass, so a 16x8 MAC is 2 passes of 8x8 and a 16x16 MAC 4 passes:

    passes = ceil(w / 8) * ceil(a / 8)
    E_mac = passes * E_mode(min(w, 8), min(a, 8)),   macs_per_cycle = macs_per_cycle_mode / passes

The energies hold at 28 nm (``node_nm``) whatever the technology table; ``area_um2`` is the
measured array's area (input registers included) over its 256 8x8 units, at 28 nm.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..checks import did_you_mean
from ..errors import InputError
from ..safe_io import load_json_strict
from .base import MacArchitecture

#: the measured designs, as shipped
PSMA_FILE = "energy_models/data/psma28.json"
#: widest operand slice one pass handles
SLICE_BITS = 8


@dataclass(frozen=True)
class MeasuredModes:
    """The measured modes of one design at one clock (arrays over modes)."""

    names: tuple[str, ...]
    act_bits: np.ndarray
    weight_bits: np.ndarray
    energy_pj: np.ndarray
    macs_per_cycle: np.ndarray


def load_psma_table() -> dict:
    """The shipped measurements (``energy_models/data/psma28.json``), read strictly."""
    text = resources.files("energy_models").joinpath(*PSMA_FILE.split("/")[1:]).read_text()
    return load_json_strict(text, PSMA_FILE)


def measured_modes(table: dict, design: str, clock_mhz: int) -> MeasuredModes:
    """Energy per MAC (pJ) and MACs per cycle relative to 8x8 of each measured mode."""
    modes = table["designs"][design]["clocks"][str(clock_mhz)]["modes"]
    ops_per_mac = table["ops_per_mac"]["value"]
    base_ops = modes["8x8"]["ops_per_cycle"]["value"]
    names = tuple(modes)
    return MeasuredModes(
        names=names,
        act_bits=np.array([modes[n]["act_bits"] for n in names]),
        weight_bits=np.array([modes[n]["weight_bits"] for n in names]),
        energy_pj=np.array([ops_per_mac * modes[n]["energy_fj_per_op"] / 1000.0 for n in names]),
        macs_per_cycle=np.array([modes[n]["ops_per_cycle"]["value"] / base_ops for n in names]),
    )


class Measured(MacArchitecture):
    name = "measured"
    PARAMS = {"design": str, "clock_mhz": int, "units": int}

    def __init__(self, technology, params):
        super().__init__(technology, params)
        self._table = load_psma_table()
        self.modes = measured_modes(self._table, self.params["design"], self.params["clock_mhz"])

    @classmethod
    def validate_params(cls, params):
        out = super().validate_params(params)
        designs = load_psma_table()["designs"]
        design = out["design"]
        if design not in designs:
            raise InputError(f"architecture 'measured': unknown design {design!r}"
                             f"{did_you_mean(design, sorted(designs))} (measured: {', '.join(sorted(designs))})")
        clocks = sorted(designs[design]["clocks"], key=int)
        if str(out["clock_mhz"]) not in clocks:
            raise InputError(f"architecture 'measured': design {design!r} was measured at clock_mhz "
                             f"{' and '.join(clocks)} only, got {out['clock_mhz']}")
        return out

    def _mode_and_passes(self, weight_bits, act_bits) -> tuple[np.ndarray, np.ndarray]:
        """Index of the cheapest measured mode holding each operand pair's slices, and the passes."""
        w, a = np.broadcast_arrays(np.asarray(weight_bits, float), np.asarray(act_bits, float))
        passes = np.ceil(w / SLICE_BITS) * np.ceil(a / SLICE_BITS)
        m = self.modes
        holds = ((m.weight_bits >= np.minimum(w, SLICE_BITS)[..., None])
                 & (m.act_bits >= np.minimum(a, SLICE_BITS)[..., None]))
        return np.argmin(np.where(holds, m.energy_pj, np.inf), axis=-1), passes

    def energy_per_mac_pj(self, weight_bits, act_bits):
        index, passes = self._mode_and_passes(weight_bits, act_bits)
        return passes * self.modes.energy_pj[index]

    def macs_per_cycle(self, weight_bits, act_bits):
        index, passes = self._mode_and_passes(weight_bits, act_bits)
        return self.modes.macs_per_cycle[index] / passes

    @property
    def node_nm(self) -> float:
        """28: the node of the measurements, whatever the technology table."""
        return float(self._table["node_nm"])

    @property
    def area_um2(self) -> float:
        """The measured array's area over its 8x8 units (um^2 at 28 nm)."""
        clock = self._table["designs"][self.params["design"]]["clocks"][str(self.params["clock_mhz"])]
        return clock["area_um2"]["value"] / self._table["array_macs_8x8"]["value"]

    @property
    def area_node_nm(self) -> float:
        return self.node_nm
