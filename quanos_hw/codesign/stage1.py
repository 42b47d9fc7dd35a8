"""Stage 1: the best per-layer bits for every hardware point x energy budget, predicted, not trained.

For each hardware point the ILP's energy tables (layer l at choice i fed at choice j, the layers
fed by the network input, uniform 16-bit) come from :func:`energy_models.estimate_accelerator` in
one call per group of points that differ only in numeric fields (``design=``: every bit
configuration on every point of the group at once; the grouping is :mod:`energy_models.dse`'s).
Each budget (a fraction of that point's uniform 16-bit energy) is then solved exactly by
:func:`quanos_hw.allocation.budget_ilp` (its objective, sum_l s_l 4^-b_l, is the *predicted
quantization error*), and every allocation is costed on its point by
:func:`energy_models.dse.run_dse` (exact energy, latency, area and the rest of a dse row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from energy_models.accelerator import Accelerator, parse_accelerator
from energy_models.accelerator_estimate import estimate_accelerator
from energy_models.dse import DseTable, Workload, _checked, _groups, apply_point, run_dse
from energy_models.estimate import input_sources
from energy_models.layers import LayerSpec

from ..allocation import BudgetProblem, InfeasibleBudget, budget_ilp

#: the columns stage 1 adds to a dse row
CANDIDATE_COLUMNS = ("budget", "bits", "predicted_error", "solver")


@dataclass(frozen=True)
class TabulatedProblem(BudgetProblem):
    """A BudgetProblem whose pairwise tables were computed beforehand (for many points at once);
    :meth:`energy` stays the exact estimate on the point's description."""

    pair: np.ndarray | None = field(default=None, repr=False, compare=False)
    unpaired: np.ndarray | None = field(default=None, repr=False, compare=False)

    def pair_table(self) -> np.ndarray:
        return self.pair

    def unpaired_table(self) -> np.ndarray:
        return self.unpaired


@dataclass(frozen=True)
class Space:
    """What stage 1 needs besides the points: the network, its sensitivities and the ladder."""

    base: Accelerator
    layers: tuple[LayerSpec, ...]
    scores: dict
    budgets: tuple[float, ...]
    choices: tuple[int, ...]
    input_bit_width: int = 8


@dataclass(frozen=True)
class PointTables:
    description: Accelerator
    pair: np.ndarray  # (layers, choices, choices)
    unpaired: np.ndarray  # (layers, choices)
    uniform16_pj: float


def _table_bits(space: Space) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (bits, input bits): every (own, input) pair, every choice with the network's inputs,
    then uniform 16-bit (the budgets' reference)."""
    c, n = np.array(sorted(space.choices)), len(space.layers)
    own, inp = np.meshgrid(c, c, indexing="ij")
    src = input_sources(space.layers)
    w = np.concatenate([np.repeat(own.reshape(-1, 1), n, 1), np.repeat(c[:, None], n, 1), np.full((1, n), 16)])
    a_in = np.concatenate([np.repeat(inp.reshape(-1, 1), n, 1), np.repeat(c[:, None], n, 1), np.full((1, n), 16)])
    a_in[len(c) ** 2:] = np.where(src[None, :] == -1, space.input_bit_width, w[len(c) ** 2:])
    return w, a_in


def point_tables(space: Space, points: Sequence[dict]) -> list[PointTables]:
    """The ILP's tables on every point, one estimate call per group of points."""
    raw, k, n = space.base.to_dict(), len(space.choices), len(space.layers)
    w, a_in = _table_bits(space)
    out: list[PointTables | None] = [None] * len(points)
    for group_items, indices in _groups(space.base, list(points)).items():
        group = dict(group_items)
        desc = _checked(raw, group, list(points), indices)
        design = {key: [points[i][key] for i in indices] for key in points[indices[0]] if key not in group}
        energy = estimate_accelerator(space.layers, w, w, input_bits=a_in, accelerator=desc, design=design or None,
                                      input_bit_width=space.input_bit_width).energy_pj
        energy = energy if design else energy[None]
        for d, i in enumerate(indices):
            e = energy[d]
            described = parse_accelerator(apply_point(raw, points[i]), f"at design point {points[i]}")
            out[i] = PointTables(described, e[:k * k].T.reshape(n, k, k), e[k * k:k * k + k].T,
                                 float(e[-1].sum()))
    return out


def allocate(space: Space, tables: PointTables) -> list[tuple[float, object]]:
    """(budget, Allocation) for every budget of the ladder the point can meet."""
    out = []
    for fraction in space.budgets:
        problem = TabulatedProblem(space.layers, tables.description.mac.architecture, fraction * tables.uniform16_pj,
                                   choices=tuple(space.choices), input_bit_width=space.input_bit_width,
                                   accelerator=tables.description, pair=tables.pair, unpaired=tables.unpaired)
        try:
            out.append((fraction, budget_ilp(problem, space.scores)))
        except InfeasibleBudget:
            continue
    return out


def bits_text(bits: Sequence[int]) -> str:
    return "-".join(str(int(b)) for b in bits)


def at_bits(layers: Sequence[LayerSpec], bits: Sequence[int]) -> tuple[LayerSpec, ...]:
    return tuple(replace(layer, weight_bit_width=int(b), act_bit_width=int(b)) for layer, b in zip(layers, bits))


def cost(base: Accelerator, point: dict, designs: dict[str, tuple[Sequence[int], dict]], layers, input_bit_width: int,
         index: int) -> DseTable:
    """dse rows of named bit configurations (name -> (bits, extra columns)) on one point, numbered ``index``."""
    workloads = [Workload(name, at_bits(layers, bits), input_bit_width, metrics=extra)
                 for name, (bits, extra) in designs.items()]
    table = run_dse(base, [point], workloads)
    table.columns["point"] = [index] * len(table)
    return table


def concat(tables: Sequence[DseTable]) -> DseTable:
    tables = [t for t in tables if len(t)]
    if not tables:
        return DseTable({})
    names = list(dict.fromkeys(k for t in tables for k in t.columns))
    return DseTable({k: [v for t in tables for v in t.columns.get(k, [None] * len(t))] for k in names})


def evaluate(space: Space, points: Sequence[dict], first_index: int = 0) -> DseTable:
    """Every candidate (allocation) of ``points``, one dse row each, points numbered from ``first_index``;
    budgets a point cannot meet give no row."""
    tables = []
    for i, (point, t) in enumerate(zip(points, point_tables(space, points))):
        designs = {f"budget {fraction:g}": (alloc.bit_list(), {"budget": fraction, "bits": bits_text(alloc.bit_list()),
                                                                "predicted_error": alloc.objective,
                                                                "solver": alloc.solver})
                   for fraction, alloc in allocate(space, t)}
        if designs:
            tables.append(cost(space.base, point, designs, space.layers, space.input_bit_width, first_index + i))
    return concat(tables)


def candidate_ids(table: DseTable) -> list[str]:
    return [f"p{p}@{b:g}" for p, b in zip(table.columns.get("point", []), table.columns.get("budget", []))]
