"""Design-space exploration: sweep fields of an accelerator description over workloads.

A sweep maps dotted keys of the description (``array.rows``, ``memory.buffers.wbuf.capacity_bytes``,
``mac.architecture``, ``technology.node_nm``, ...) to lists of values; the design points are
their cross product (:func:`expand_grid`) or an explicit list (:func:`points_from_list`). Points
that differ only in numeric fields the estimator vectorises (``VECTOR_KEYS`` and buffer
capacities) are evaluated in one call per workload; the others (MAC architecture, node, unrolling,
...) group the points, one description per group. Each workload is a model's LayerSpecs at its
bits (plus, optionally, measured metrics such as accuracy), costed beside uniform 16-bit on the
same design point. :func:`run_dse` returns a :class:`DseTable` of one row per design point x
workload; :func:`pareto_rows` marks the non-dominated rows per workload.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .accelerator import Accelerator, parse_accelerator
from .accelerator_estimate import DESIGN_KEYS, estimate_accelerator
from .checks import did_you_mean
from .errors import InputError
from .layers import LayerSpec
from .pareto import pareto_mask

#: objective name -> DseTable column (all minimised)
OBJECTIVES = {"energy": "energy_pj", "latency": "latency_s", "area": "area_mm2", "edp": "edp_j_s"}
#: most design points expanded without the caller's explicit consent (``allow_large``)
DEFAULT_POINT_LIMIT = 100_000


@dataclass(frozen=True)
class Workload:
    """A network to cost: its LayerSpecs at their bits, and metrics measured on it (e.g. accuracy)."""

    name: str
    layers: tuple[LayerSpec, ...]
    input_bit_width: int = 8
    metrics: dict = field(default_factory=dict)


@dataclass
class DseTable:
    """Columns of equal length (one row per design point x workload), in insertion order."""

    columns: dict[str, list]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def rows(self) -> list[dict]:
        names = list(self.columns)
        return [dict(zip(names, values)) for values in zip(*self.columns.values())]

    def column(self, name: str) -> np.ndarray:
        return np.array(self.columns[name], dtype=float)

    def select(self, mask) -> DseTable:
        keep = np.flatnonzero(mask)
        return DseTable({k: [v[i] for i in keep] for k, v in self.columns.items()})

    def to_pandas(self):
        """A pandas DataFrame (pandas is imported only here)."""
        import pandas as pd

        return pd.DataFrame(self.columns)


# -- sweeps --------------------------------------------------------------------------------------

def parse_value(text: str):
    """A sweep value from text: int, float, true/false, null, or the string itself."""
    low = text.strip().lower()
    if low in ("null", "none", "unbounded"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"sweep value {text!r} is not a finite number")
        return value
    return text.strip()


def parse_sweep_args(items: Sequence[str]) -> dict[str, list]:
    """``["array.rows=8,16", ...]`` -> ``{"array.rows": [8, 16]}`` (a key given twice is an error)."""
    sweep: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise InputError(f"--sweep needs KEY=V1,V2,..., got {item!r}")
        if key in sweep:
            raise InputError(f"--sweep key {key!r} is given twice")
        sweep[key] = [parse_value(v) for v in values.split(",") if v.strip()]
        if not sweep[key]:
            raise InputError(f"--sweep {key} has no values")
    return sweep


def expand_grid(sweep: dict[str, list], limit: int | None = DEFAULT_POINT_LIMIT) -> list[dict]:
    """The cross product of the swept values, refused beyond ``limit`` points (None: no limit)."""
    if any(not values for values in sweep.values()):
        empty = next(k for k, v in sweep.items() if not v)
        raise InputError(f"sweep key {empty!r} has no values")
    count = math.prod(len(v) for v in sweep.values())
    if limit is not None and count > limit:
        raise InputError(f"the sweep expands to {count:,} design points, more than {limit:,}; narrow it or "
                         f"confirm with --yes")
    keys = list(sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*sweep.values())]


def points_from_list(raw: object, origin: str) -> list[dict]:
    """Design points from a sweep file: a list of ``{key: value}`` objects, or ``{key: [values]}``
    for a grid."""
    if isinstance(raw, dict) and all(isinstance(v, list) for v in raw.values()):
        return expand_grid(raw, limit=None)
    if not isinstance(raw, list) or not raw or not all(isinstance(p, dict) for p in raw):
        raise InputError(f"sweep file {origin} must be a non-empty list of {{key: value}} objects or a "
                         f"{{key: [values]}} grid")
    return [dict(p) for p in raw]


# -- applying a point to a description ----------------------------------------------------------

def sweepable_keys(base: Accelerator) -> list[str]:
    """Every dotted key a sweep may set on ``base``."""
    raw = base.to_dict()
    keys = ["name", "mac.architecture", "clock_mhz", "batch", "technology.table", "technology.node_nm",
            "array.rows", "array.cols", "array.stationary", "array.unroll", "latency",
            "memory.network_input_on_chip", "memory.dram.read_pj_per_bit", "memory.dram.write_pj_per_bit",
            "memory.dram.bandwidth_gb_s"]
    if raw["array"]["unroll"] != "ideal":
        keys += ["array.unroll.rows", "array.unroll.cols"]
    for b in base.buffers:
        keys += [f"memory.buffers.{b.name}.{f}" for f in ("capacity_bytes", "word_bits", "banks", "read_pj",
                                                          "write_pj", "area_mm2")]
    return keys


def check_keys(base: Accelerator, keys) -> None:
    known = sweepable_keys(base)
    for key in keys:
        if key not in known and not key.startswith("mac.params."):
            raise InputError(f"unknown sweep key {key!r}{did_you_mean(key, known)} (sweepable: {', '.join(known)}, "
                             f"mac.params.<name>)")


def apply_point(raw: dict, point: dict) -> dict:
    """A copy of the description dict ``raw`` with the point's dotted keys set (``memory.buffers.<name>.x``
    addresses a buffer by name)."""
    out = copy.deepcopy(raw)
    for key, value in point.items():
        node, parts, i = out, key.split("."), 0
        while i < len(parts) - 1:
            child = node.get(parts[i])
            if parts[i] == "buffers" and isinstance(child, list):
                node, i = next(b for b in child if b["name"] == parts[i + 1]), i + 2
                continue
            if not isinstance(child, dict):
                if child is not None:
                    raise InputError(f"sweep key {key!r}: {'.'.join(parts[:i + 1])} is {child!r}, not an object")
                child = node[parts[i]] = {}
            node, i = child, i + 1
        node[parts[-1]] = value
    return out


def _vector_keys(base: Accelerator) -> set[str]:
    return {*DESIGN_KEYS, *(f"memory.buffers.{b.name}.capacity_bytes" for b in base.buffers)}


def _groups(base: Accelerator, points: list[dict]) -> dict[tuple, list[int]]:
    """Point indices grouped by the values of the keys the estimator cannot vectorise."""
    vector = _vector_keys(base)
    keys = sorted({k for p in points for k in p})
    numeric = {k for k in keys if k in vector and all(isinstance(p.get(k), (int, float)) and not isinstance(
        p.get(k), bool) for p in points if k in p) and all(k in p for p in points)}
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault(tuple((k, _hashable(p[k])) for k in keys if k in p and k not in numeric), []).append(i)
    return groups


def _hashable(value):
    return tuple(value) if isinstance(value, list) else (tuple(sorted(value.items())) if isinstance(value, dict)
                                                         else value)


# -- running -------------------------------------------------------------------------------------

def run_dse(base: Accelerator, points: list[dict], workloads: Sequence[Workload],
            progress: Callable[[int], None] | None = None) -> DseTable:
    """Cost every workload on every design point; one row per (point, workload), points in order."""
    if not points:
        raise InputError("the sweep has no design points")
    if not workloads:
        raise InputError("give at least one workload")
    check_keys(base, {k for p in points for k in p})
    raw = base.to_dict()
    values: dict[str, np.ndarray] = {}  # column -> (points * workloads,) in row order
    for group_items, indices in _groups(base, points).items():
        group = dict(group_items)
        desc = _checked(raw, group, points, indices)
        design = {k: [points[i][k] for i in indices] for k in points[indices[0]] if k not in group}
        for w, wl in enumerate(workloads):
            rows = np.asarray(indices) * len(workloads) + w
            for name, column in _evaluate(desc, wl, design or None, len(indices)).items():
                values.setdefault(name, np.full(len(points) * len(workloads), np.nan))[rows] = column
            if progress:
                progress(len(indices))
    return _table(points, workloads, values)


def _checked(raw: dict, group: dict, points: list[dict], indices: list[int]) -> Accelerator:
    """The group's description, every swept value of the group validated by the parser."""
    desc = parse_accelerator(apply_point(raw, group), f"at design point {points[indices[0]]}")
    for key in {k for i in indices for k in points[i]} - set(group):
        for value in dict.fromkeys(points[i][key] for i in indices):
            parse_accelerator(apply_point(raw, {**group, key: value}), f"at {key}={value}")
    return desc


def _evaluate(acc: Accelerator, wl: Workload, design: dict | None, count: int) -> dict[str, np.ndarray]:
    """Columns (count,) for one workload on ``count`` design points of one description."""
    layers = wl.layers
    w = np.array([[layer.weight_bit_width for layer in layers], [16] * len(layers)])
    a = np.array([[layer.act_bit_width for layer in layers], [16] * len(layers)])
    est = estimate_accelerator(layers, w, a, accelerator=acc, design=design, input_bit_width=wl.input_bit_width)

    def point(x) -> np.ndarray:  # (count, 2) -> (count,): the workload's bits, per design point
        x = np.asarray(x, float)
        return np.broadcast_to(x if design else x[None], (count, 2))[:, 0]

    energy = point(est.total_energy_pj)
    uniform16 = np.broadcast_to(np.asarray(est.total_energy_pj, float) if design else est.total_energy_pj[None],
                                (count, 2))[:, 1]
    area = est.total_area_mm2
    return {"energy_pj": energy, "mac_energy_pj": point(est.mac_energy_pj.sum(axis=-1)),
            **{f"energy_pj_{k}": point(v.sum(axis=-1)) for k, v in est.memory_energy_pj_by_level.items()},
            "latency_s": point(est.total_latency_s), "throughput_per_s": point(est.throughput_per_s),
            "edp_j_s": point(est.edp_j_s),
            "area_mm2": np.broadcast_to(np.nan if area is None else np.asarray(area, float), (count,)),
            "utilization": point(est.total_utilization), "dram_bits": point(est.dram_bits.sum(axis=-1)),
            "energy_saving_vs_uniform16": uniform16 / energy}


def _table(points: list[dict], workloads: Sequence[Workload], values: dict[str, np.ndarray]) -> DseTable:
    keys = list(dict.fromkeys(k for p in points for k in p))
    metric_names = list(dict.fromkeys(m for wl in workloads for m in wl.metrics))
    n_w = len(workloads)
    columns: dict[str, list] = {"point": [i for i in range(len(points)) for _ in range(n_w)],
                                "workload": [wl.name for _ in points for wl in workloads]}
    for k in keys:
        columns[k] = [p.get(k) for p in points for _ in range(n_w)]
    for name, column in values.items():
        columns[name] = column.tolist()
    for m in metric_names:
        columns[m] = [wl.metrics.get(m) for _ in points for wl in workloads]
    return DseTable(columns)


def check_objectives(names: Sequence[str]) -> list[str]:
    if not names:
        raise InputError(f"give at least one objective (known: {', '.join(OBJECTIVES)})")
    for name in names:
        if name not in OBJECTIVES:
            raise InputError(f"unknown objective {name!r}{did_you_mean(name, list(OBJECTIVES))} "
                             f"(known: {', '.join(OBJECTIVES)})")
    return list(names)


def pareto_rows(table: DseTable, objectives: Sequence[str]) -> np.ndarray:
    """Mask of the rows on their workload's Pareto front for ``objectives`` (an unknown area counts
    as infinite, so it never wins on area)."""
    check_objectives(objectives)
    costs = np.stack([np.nan_to_num(table.column(OBJECTIVES[o]), nan=np.inf) for o in objectives], axis=1)
    names = np.array(table.columns["workload"], dtype=object)
    mask = np.zeros(len(table), dtype=bool)
    for name in dict.fromkeys(names):
        idx = np.flatnonzero(names == name)
        mask[idx] = pareto_mask(costs[idx])
    return mask


def uniform_energy(base: Accelerator, layers: Sequence[LayerSpec], architectures: Sequence[str],
                   bits: Sequence[int] = tuple(range(2, 17)), input_bit_width: int = 8) -> dict[str, np.ndarray]:
    """Energy per inference (pJ) of ``layers`` at uniform ``bits`` on ``base`` with each MAC
    architecture in turn (its shipped parameters): architecture -> array over ``bits``."""
    from .accelerator import MacSpec

    b = np.asarray(bits)
    out = {}
    for name in architectures:
        acc = base.replace(mac=MacSpec(name, dict(base.mac.params) if name == base.mac.architecture else {}))
        grid = np.repeat(b[:, None], len(layers), axis=1)
        out[name] = estimate_accelerator(layers, grid, grid, accelerator=acc,
                                         input_bit_width=input_bit_width).total_energy_pj
    return out
