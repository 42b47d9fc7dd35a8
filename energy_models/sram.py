"""On-chip SRAM buffer: energy per access, area and leakage from capacity and word width.

Source: the CACTI 7 sweep that the Bit Fusion authors (Sharma et al., ISCA 2018) ship in their
repository, transcribed with citations into ``energy_models/data/cacti_sram.json``: single-bank
SRAMs with 32-bit words at 45 nm (itrs-hp cells, 360 K, ECC, one read and one write port), six
capacities from 128 B to 16 KB, i.e. depths of 32 to 4096 words.

The model, in three documented steps (each a user can redo by hand):

1. **Depth.** A sweep quantity q (read or write energy per access, area, leakage) is a function
   of the depth D = capacity_bytes * 8 / word_bits (words). Between two sweep points it is a
   straight line in log(q) against log(D): q(D) = q_k * (D / D_k)^s, with s the slope of the
   segment. Outside the sweep the end segment's power law continues (the extrapolation an
   architect expects: CACTI's energies and areas follow power laws of capacity, and a buffer of
   64 KB or 512 KB must still get a number). Data is monotone, so the model is monotone in
   capacity. Check ``load_cacti_sweep().depth_words`` for the range that is interpolation.
2. **Word width.** A W-bit-wide SRAM is W/32 side-by-side 32-bit-wide arrays of the same depth
   (bit-slicing), so q(C, W) = (W / 32) * q32(D): per-bit energy, area and leakage depend on the
   depth only. Wide memories are built this way; it counts the row decoder once per 32-bit slice,
   so for W > 32 it errs on the high side, and for W < 32 it is an extrapolation.
3. **Node.** Energies are scaled from the sweep's 45 nm by :func:`energy_scale` and areas by
   :func:`area_scale` (Stillmaker & Baas, HP rows, nominal supplies). Leakage is given at 45 nm
   only: no source used here scales leakage across nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from .array_checks import check_int_array, check_real_array, sourced_number
from .checks import MAX_WORD_BITS
from .errors import InputError
from .safe_io import load_json_strict
from .scaling import area_scale, check_node_nm, energy_scale

#: the data file in energy_models/data
DATA_FILE = "cacti_sram.json"
#: largest capacity accepted, bytes (1 GiB: far above any on-chip buffer)
MAX_CAPACITY_BYTES = float(2**30)
#: the quantities of every sweep point, besides capacity_bytes
QUANTITIES = ("read_pj", "write_pj", "area_mm2", "leakage_mw")


@dataclass(frozen=True)
class CactiPoint:
    """One CACTI result: a single bank of ``capacity_bytes`` with the sweep's word width."""

    capacity_bytes: int
    read_pj: float
    write_pj: float
    area_mm2: float
    leakage_mw: float


@dataclass(frozen=True)
class CactiSweep:
    """The validated sweep, points by increasing capacity."""

    reference: str
    node_nm: float
    word_bits: int
    points: tuple[CactiPoint, ...]

    @property
    def depth_words(self) -> np.ndarray:
        return np.array([p.capacity_bytes * 8 / self.word_bits for p in self.points])

    def column(self, quantity: str) -> np.ndarray:
        return np.array([getattr(p, quantity) for p in self.points])


def load_cacti_sweep() -> CactiSweep:
    """Read and validate ``energy_models/data/cacti_sram.json``."""
    origin = f"SRAM table {DATA_FILE!r}"
    raw = load_json_strict(resources.files("energy_models").joinpath("data", DATA_FILE).read_text(), origin)
    if not isinstance(raw, dict) or not isinstance(raw.get("points"), list) or len(raw["points"]) < 2:
        raise InputError(f"{origin}: needs at least two 'points'")
    points = []
    for i, entry in enumerate(raw["points"]):
        where = f"{origin}: points[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"capacity_bytes", *QUANTITIES}:
            raise InputError(f"{where} needs exactly capacity_bytes, {', '.join(QUANTITIES)}")
        values = {key: sourced_number(entry[key], f"{where}.{key}", 0.0, True)
                  for key in ("capacity_bytes", *QUANTITIES)}
        points.append(CactiPoint(**{**values, "capacity_bytes": int(values["capacity_bytes"])}))
    points.sort(key=lambda p: p.capacity_bytes)
    if len({p.capacity_bytes for p in points}) != len(points):
        raise InputError(f"{origin}: a capacity appears twice")
    return CactiSweep(reference=str(raw.get("reference")),
                      node_nm=sourced_number(raw.get("node_nm"), f"{origin}: node_nm", 0.0, True),
                      word_bits=int(sourced_number(raw.get("word_bits"), f"{origin}: word_bits", 0.0, True)),
                      points=tuple(points))


def _power_law(depth: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-log interpolation of y(x) at ``depth``, the end segments' power laws outside [x0, xn].
    The base point is the sweep point at or below ``depth`` (the first one below the sweep), so
    every sweep point returns its own value exactly."""
    k = np.clip(np.searchsorted(x, depth, side="right") - 1, 0, len(x) - 1)
    seg = np.minimum(k, len(x) - 2)
    slope = np.log(y[seg + 1] / y[seg]) / np.log(x[seg + 1] / x[seg])
    return y[k] * (depth / x[k]) ** slope


def _sram(quantity: str, capacity_bytes, word_bits) -> tuple[np.ndarray, CactiSweep]:
    """``quantity`` at the sweep's node for every (capacity, word width), broadcast."""
    if isinstance(capacity_bytes, bool):
        raise InputError(f"capacity_bytes must be a finite number, got {capacity_bytes!r}")
    capacity = check_real_array(capacity_bytes, "capacity_bytes", 0.0, MAX_CAPACITY_BYTES, low_open=True,
                                unit="bytes")
    width = check_int_array(word_bits, "word_bits", 1, MAX_WORD_BITS)
    capacity, width = np.broadcast_arrays(capacity, width)
    if (capacity * 8 < width).any():
        i = tuple(np.argwhere(capacity * 8 < width)[0]) if capacity.ndim else ()
        raise InputError(f"capacity_bytes = {capacity[i]:g} does not hold one {width[i]}-bit word")
    sweep = load_cacti_sweep()
    q32 = _power_law(capacity * 8 / width, sweep.depth_words, sweep.column(quantity))
    return width / sweep.word_bits * q32, sweep


def _at_node(quantity: str, capacity_bytes, word_bits, node_nm) -> float | np.ndarray:
    nodes = check_node_nm(node_nm, "node_nm")
    value, sweep = _sram(quantity, capacity_bytes, word_bits)
    scale = area_scale if quantity == "area_mm2" else energy_scale
    out = value * scale(sweep.node_nm, nodes)
    return float(out) if all(np.ndim(a) == 0 for a in (capacity_bytes, word_bits, node_nm)) else out


def sram_read_pj(capacity_bytes, word_bits, node_nm=45.0) -> float | np.ndarray:
    """Energy (pJ) of reading one ``word_bits``-bit word from an SRAM of ``capacity_bytes`` at
    ``node_nm``; see the module docstring for the rule. Arguments broadcast (NumPy)."""
    return _at_node("read_pj", capacity_bytes, word_bits, node_nm)


def sram_write_pj(capacity_bytes, word_bits, node_nm=45.0) -> float | np.ndarray:
    """Energy (pJ) of writing one word, like :func:`sram_read_pj`."""
    return _at_node("write_pj", capacity_bytes, word_bits, node_nm)


def sram_area_mm2(capacity_bytes, word_bits, node_nm=45.0) -> float | np.ndarray:
    """Area (mm^2) of the SRAM, like :func:`sram_read_pj`, scaled by :func:`area_scale`."""
    return _at_node("area_mm2", capacity_bytes, word_bits, node_nm)


def sram_leakage_mw(capacity_bytes, word_bits) -> float | np.ndarray:
    """Leakage power (mW) of the SRAM at the sweep's conditions (45 nm, itrs-hp cells, 360 K)."""
    value, _ = _sram("leakage_mw", capacity_bytes, word_bits)
    return float(value) if np.ndim(capacity_bytes) == 0 and np.ndim(word_bits) == 0 else value

