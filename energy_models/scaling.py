"""Technology-node scaling of energy, delay and area, after Stillmaker and Baas (2017).

Source: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81, with the
authors' corrigendum. The coefficients live in ``energy_models/data/stillmaker2017.json``, each
with its source. The paper fits, per node, polynomials in the supply voltage V to HSpice results::

    energy factor  E_n(V) = a V^2 + b V + c            (Table 5)
    delay factor   D_n(V) = a V^3 + b V^2 + c V + d

and a quantity scales from node x at V_x to node y at V_y by E_y(V_y) / E_x(V_x) (likewise D).
Area follows the paper's area table. We use the general-purpose / high-performance (HP) rows: the
only rows for 180-65 nm, the HP rows (not LP) for 45 nm and below. By default each node runs at
its nominal supply (the PTM model card's; see the data file).

Between table nodes a node n is placed on the segment [n_hi, n_lo] of its two neighbours by
w = ln(n_hi / n) / ln(n_hi / n_lo), and every quantity q is interpolated as a straight line in
log(q) against log(node), q(n) = q(n_hi)^(1 - w) * q(n_lo)^w. Basis: scaling quantities follow
power laws of the feature size (area ~ L^2, switched capacitance ~ L), and a power law is a
straight line in log-log, so the rule is exact for one and, between neighbours, monotone. For an
energy or delay at a given V, both neighbours' fits are evaluated at that V and interpolated;
the default V of an off-table node is the neighbours' nominal voltages, linear in log(node).

A pitfall this avoids: Accelergy's transcription (accelergy-library-plug-in, scaling.py) turns a
node into a fractional table index with the weight on the wrong neighbour (28 nm lands two thirds
of the way from 32 to 20 nm instead of one third), takes the LP rows for 45 and 32 nm and the HP
rows below, and evaluates every node at one 0.8 V supply; it gives 0.367 for the 45 -> 28 nm
energy factor where this module gives 0.420 (0.513 with the direction fixed but its LP rows and
0.8 V kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from .array_checks import check_real_array, sourced_number
from .errors import InputError
from .safe_io import load_json_strict

#: the data file in energy_models/data
DATA_FILE = "stillmaker2017.json"
#: smallest and largest node of the paper's tables, nm
MIN_NODE_NM, MAX_NODE_NM = 7.0, 180.0
#: highest supply voltage accepted, V (the 180 nm node's nominal supply is 1.8 V)
MAX_VDD_V = 2.0


@dataclass(frozen=True)
class NodeFit:
    """One node of the table: nominal supply, energy and delay fits, area relative to 45 nm."""

    node_nm: float
    nominal_vdd_v: float
    energy_coefficients: tuple[float, float, float]  # a, b, c of a V^2 + b V + c
    delay_coefficients: tuple[float, float, float, float]  # a, b, c, d of a V^3 + b V^2 + c V + d
    area_from_45nm: float


@dataclass(frozen=True)
class ScalingTable:
    """The validated table, nodes from largest (180 nm) to smallest (7 nm)."""

    name: str
    reference: str
    nodes: tuple[NodeFit, ...]

    @property
    def nodes_nm(self) -> np.ndarray:
        return np.array([fit.node_nm for fit in self.nodes])


def _node(key: str, raw: object, where: str) -> NodeFit:
    if not isinstance(raw, dict) or set(raw) != {"nominal_vdd_v", "energy_factor", "delay_factor", "area_from_45nm"}:
        raise InputError(f"{where}: a node needs exactly nominal_vdd_v, energy_factor, delay_factor, area_from_45nm")
    energy, delay = raw["energy_factor"], raw["delay_factor"]
    if not isinstance(energy, dict) or set(energy) != set("abc"):
        raise InputError(f"{where}.energy_factor needs the coefficients a, b, c")
    if not isinstance(delay, dict) or set(delay) != set("abcd"):
        raise InputError(f"{where}.delay_factor needs the coefficients a, b, c, d")
    return NodeFit(
        node_nm=float(key),
        nominal_vdd_v=sourced_number(raw["nominal_vdd_v"], f"{where}.nominal_vdd_v", 0.0, True),
        energy_coefficients=tuple(sourced_number(energy[k], f"{where}.energy_factor.{k}") for k in "abc"),
        delay_coefficients=tuple(sourced_number(delay[k], f"{where}.delay_factor.{k}") for k in "abcd"),
        area_from_45nm=sourced_number(raw["area_from_45nm"], f"{where}.area_from_45nm", 0.0, True),
    )


def load_scaling_table() -> ScalingTable:
    """Read and validate ``energy_models/data/stillmaker2017.json``."""
    origin = f"scaling table {DATA_FILE!r}"
    raw = load_json_strict(resources.files("energy_models").joinpath("data", DATA_FILE).read_text(), origin)
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), dict) or not raw["nodes"]:
        raise InputError(f"{origin}: missing or empty 'nodes'")
    if any(not key.isdigit() for key in raw["nodes"]):
        raise InputError(f"{origin}: node keys must be whole nanometres")
    fits = sorted((_node(key, value, f"{origin}: nodes.{key}") for key, value in raw["nodes"].items()),
                  key=lambda fit: -fit.node_nm)
    return ScalingTable(name=str(raw.get("name")), reference=str(raw.get("reference")), nodes=tuple(fits))


def scaling_nodes_nm() -> tuple[float, ...]:
    """The nodes of the paper's tables, largest first: (180, 130, ..., 10, 7)."""
    return tuple(float(n) for n in load_scaling_table().nodes_nm)


def check_node_nm(value: object, field: str) -> np.ndarray:
    """``value`` (a number or an array) as nodes in nm inside the table's range, or an InputError
    naming ``field``."""
    if isinstance(value, bool):
        raise InputError(f"{field} must be a finite number, got {value!r}")
    return check_real_array(value, field, MIN_NODE_NM, MAX_NODE_NM, unit="nm")


def _bracket(table: ScalingTable, node_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (hi, lo) of the neighbouring table nodes (hi > lo) and the weight w of lo, with
    w = ln(hi / node) / ln(hi / lo): exactly 0 at the node hi and exactly 1 at the node lo."""
    nodes = table.nodes_nm  # decreasing
    j = np.clip(np.searchsorted(nodes[::-1], node_nm, side="right") - 1, 0, len(nodes) - 2)
    lo = len(nodes) - 1 - j
    hi = lo - 1
    return hi, lo, np.log(nodes[hi] / node_nm) / np.log(nodes[hi] / nodes[lo])


def _loglog(q_hi: np.ndarray, q_lo: np.ndarray, w: np.ndarray) -> np.ndarray:
    """q_hi^(1 - w) * q_lo^w; a neighbour of weight 0 is skipped, so a table node returns its own value."""
    return np.where(w < 1, q_hi, 1.0) ** (1.0 - w) * np.where(w > 0, q_lo, 1.0) ** w


def _vdd(table: ScalingTable, node_nm: np.ndarray, vdd: object, field: str) -> np.ndarray:
    if vdd is None:
        hi, lo, w = _bracket(table, node_nm)
        nominal = np.array([fit.nominal_vdd_v for fit in table.nodes])
        return (1.0 - w) * nominal[hi] + w * nominal[lo]
    if isinstance(vdd, bool):
        raise InputError(f"{field} must be a finite number, got {vdd!r}")
    return check_real_array(vdd, field, 0.0, MAX_VDD_V, low_open=True, unit="V")


def _factor(table: ScalingTable, node_nm: np.ndarray, vdd: np.ndarray, kind: str, field: str) -> np.ndarray:
    """The ``kind`` ("energy" or "delay") fit at ``node_nm`` and supply ``vdd`` (broadcast)."""
    node_nm, vdd = np.broadcast_arrays(node_nm, vdd)
    coeffs = np.array([getattr(fit, f"{kind}_coefficients") for fit in table.nodes])
    hi, lo, w = _bracket(table, node_nm)
    q_hi, q_lo = np.zeros_like(vdd), np.zeros_like(vdd)
    for k in range(coeffs.shape[1]):  # Horner: a V^2 + b V + c = (a V + b) V + c
        q_hi, q_lo = q_hi * vdd + coeffs[hi, k], q_lo * vdd + coeffs[lo, k]
    bad = ((q_hi <= 0) & (w < 1)) | ((q_lo <= 0) & (w > 0))
    if bad.any():
        at = tuple(np.argwhere(bad)[0]) if bad.ndim else ()
        raise InputError(f"{field} = {vdd[at]:g} V is outside the voltage range of the {kind} fit at "
                         f"{node_nm[at]:g} nm (the fitted factor is not positive there)")
    return _loglog(q_hi, q_lo, w)


def _scalar_or_array(x: np.ndarray, *inputs: object) -> float | np.ndarray:
    return float(x) if all(np.ndim(i) == 0 for i in inputs) else x


def nominal_vdd_v(node_nm) -> float | np.ndarray:
    """The default supply (V) at ``node_nm``: the table's nominal voltage, linear in log(node) between nodes."""
    table = load_scaling_table()
    nodes = check_node_nm(node_nm, "node_nm")
    return _scalar_or_array(_vdd(table, nodes, None, "vdd"), node_nm)


def _voltage_scale(kind: str, from_nm, to_nm, vdd_from, vdd_to) -> float | np.ndarray:
    table = load_scaling_table()
    x = check_node_nm(from_nm, "from_nm")
    y = check_node_nm(to_nm, "to_nm")
    ratio = (_factor(table, y, _vdd(table, y, vdd_to, "vdd_to"), kind, "vdd_to")
             / _factor(table, x, _vdd(table, x, vdd_from, "vdd_from"), kind, "vdd_from"))
    return _scalar_or_array(ratio, from_nm, to_nm, vdd_from, vdd_to)


def energy_scale(from_nm, to_nm, *, vdd_from=None, vdd_to=None) -> float | np.ndarray:
    """Factor that takes an energy at ``from_nm`` (supply ``vdd_from``) to ``to_nm`` (``vdd_to``):
    E_to(vdd_to) / E_from(vdd_from) with the paper's energy fits (HP rows), log-log interpolated
    between table nodes. A supply left as None is the node's nominal voltage. Arguments broadcast."""
    return _voltage_scale("energy", from_nm, to_nm, vdd_from, vdd_to)


def delay_scale(from_nm, to_nm, *, vdd_from=None, vdd_to=None) -> float | np.ndarray:
    """Factor that takes a gate delay at ``from_nm`` to ``to_nm``, like :func:`energy_scale` with
    the paper's delay fits (a clock period scales by it; a frequency by its inverse)."""
    return _voltage_scale("delay", from_nm, to_nm, vdd_from, vdd_to)


def area_scale(from_nm, to_nm) -> float | np.ndarray:
    """Factor that takes an area at ``from_nm`` to ``to_nm``: A(to) / A(from), with A the paper's
    area factor from 45 nm (so every factor from 45 nm is the table's entry), log-log
    interpolated between nodes. Arguments broadcast."""
    table = load_scaling_table()
    x = check_node_nm(from_nm, "from_nm")
    y = check_node_nm(to_nm, "to_nm")
    area = np.array([fit.area_from_45nm for fit in table.nodes])

    def at(node_nm: np.ndarray) -> np.ndarray:
        hi, lo, w = _bracket(table, node_nm)
        return _loglog(area[hi], area[lo], w)

    return _scalar_or_array(at(y) / at(x), from_nm, to_nm)
