"""Energy-budgeted bit allocation as an integer linear program (exact), with a greedy fallback.

Given per-layer sensitivities s_l and error proxies q_l(b) (default 4^-b, the relative MSE of a
b-bit uniform quantizer up to a constant; or measured ones), choose one bit-width per layer from
a set (default 2, 3, 4, 6, 8, 12, 16) to

    minimise   sum_l  s_l * q_l(b_l)
    subject to E(b) <= budget,

where E is the exact energy of energy_models (each layer's cost depends on its own bits and on
the bits of the layer feeding it). Formulation (scipy.optimize.milp, HiGHS): binaries x[l, i]
(layer l takes choice i, one per layer) and, for each layer fed by another layer p, continuous
y[l, i, j] whose marginals are x[l, .] and x[p, .]; with one-hot marginals y is the outer
product, so ``sum E[l, i, j] y[l, i, j]`` is the exact energy. When milp is unavailable, fails or
exceeds ``time_limit_s``, a greedy descent (lower the bits that save the most energy per unit of
objective, until the budget holds) is used instead; the result says which solver answered.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from .budget import Allocation, BudgetProblem, InfeasibleBudget, weight_error_proxy


def _costs(problem: BudgetProblem, scores: Mapping[str, float], error) -> np.ndarray:
    names = [layer.name for layer in problem.layers]
    if set(scores) != set(names):
        raise InputError(f"sensitivity scores must name exactly the layers {names}")
    out = np.empty((len(names), len(problem.choices)))
    for li, name in enumerate(names):
        s = float(scores[name])
        if not s >= 0:
            raise InputError(f"sensitivity of {name!r} must be a number >= 0, got {scores[name]!r}")
        q = error[name] if error is not None and name in error else weight_error_proxy(problem.choices)
        out[li] = [s * float(q[b]) for b in problem.choices]
    return out


def _allocation(problem: BudgetProblem, index: np.ndarray, cost: np.ndarray, solver: str) -> Allocation:
    bits = np.array(problem.choices)[index]
    energy = float(problem.energy(bits[None, :])[0])
    config = {layer.name: {"weight_bit_width": int(b), "act_bit_width": int(b)}
              for layer, b in zip(problem.layers, bits)}
    objective = float(cost[np.arange(len(index)), index].sum())
    return Allocation(config, energy, problem.budget_pj, objective, solver)


def _milp(problem: BudgetProblem, cost: np.ndarray, time_limit_s: float) -> np.ndarray | None:
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, k = cost.shape
    src = problem.sources()
    table = problem.pair_table()  # (n, k, k)
    paired = [li for li in range(n) if src[li] >= 0]
    nx, ny = n * k, len(paired) * k * k
    # HiGHS stops at an absolute gap of 1e-6: scale the objective so its largest term is 1e6 (the
    # argmin is unchanged) and express energy as a fraction of the budget (coefficients near 1); a
    # subnormal largest cost (1e-308) would make the scale overflow to inf: then the costs stay as they are
    with np.errstate(over="ignore", divide="ignore"):
        scale = 1e6 / cost.max() if cost.max() > 0 else 1.0
    scale = scale if np.isfinite(scale) else 1.0
    c = np.concatenate([cost.ravel() * scale, np.zeros(ny)])
    energy_row = np.zeros(nx + ny)
    unpaired = problem.unpaired_table()  # (n, k): inputs at the network precision or at own bits
    for li in range(n):
        if src[li] < 0:
            energy_row[li * k:(li + 1) * k] = unpaired[li]
    rows, lower, upper = [], [], []

    def add(row, lo, hi):
        rows.append(row)
        lower.append(lo)
        upper.append(hi)

    for li in range(n):  # one choice per layer
        row = np.zeros(nx + ny)
        row[li * k:(li + 1) * k] = 1
        add(row, 1, 1)
    for t, li in enumerate(paired):
        base = nx + t * k * k
        energy_row[base:base + k * k] = table[li].ravel()
        p = src[li]
        for i in range(k):  # sum_j y[li, i, j] = x[li, i]
            row = np.zeros(nx + ny)
            row[base + i * k:base + (i + 1) * k] = 1
            row[li * k + i] = -1
            add(row, 0, 0)
        for j in range(k):  # sum_i y[li, i, j] = x[p, j]
            row = np.zeros(nx + ny)
            row[base + j:base + k * k:k] = 1
            row[p * k + j] = -1
            add(row, 0, 0)
    add(energy_row / problem.budget_pj, -np.inf, 1.0 - 1e-9)
    integrality = np.concatenate([np.ones(nx), np.zeros(ny)])
    result = milp(c, integrality=integrality, bounds=Bounds(0, 1),
                  constraints=LinearConstraint(np.array(rows), lower, upper),
                  options={"time_limit": time_limit_s, "mip_rel_gap": 0.0})
    if result.status == 2:
        raise InfeasibleBudget(f"no configuration of bits {problem.choices} fits the budget "
                               f"{problem.budget_pj:.4g} pJ")
    if result.x is None or result.status != 0:
        return None
    index = result.x[:nx].reshape(n, k).argmax(axis=1)
    exact = problem.energy(np.array(problem.choices)[index][None, :])[0]
    return index if exact <= problem.budget_pj else None


def greedy(problem: BudgetProblem, cost: np.ndarray) -> np.ndarray:
    """Start at the largest bits; repeatedly lower the layer with the best energy saved per
    objective added (exact energies, all candidates evaluated in one call) until within budget."""
    n, k = cost.shape
    index = np.full(n, k - 1)
    energy = problem.energy(np.array(problem.choices)[index][None, :])[0]
    while energy > problem.budget_pj:
        candidates = [li for li in range(n) if index[li] > 0]
        if not candidates:
            raise InfeasibleBudget(f"no configuration of bits {problem.choices} fits the budget "
                                   f"{problem.budget_pj:.4g} pJ")
        trial = np.repeat(index[None, :], len(candidates), axis=0)
        trial[np.arange(len(candidates)), candidates] -= 1
        energies = problem.energy(np.array(problem.choices)[trial])
        saved = energy - energies
        added = np.array([cost[li, index[li] - 1] - cost[li, index[li]] for li in candidates])
        ratio = saved / np.maximum(added, 1e-30)
        best = int(np.argmax(ratio))
        index, energy = trial[best], energies[best]
    return index


def budget_ilp(problem: BudgetProblem, scores: Mapping[str, float], error: Mapping | None = None,
               time_limit_s: float = 30.0, solver: str = "milp") -> Allocation:
    """Optimal bits under ``problem``'s energy budget (see module docstring)."""
    cost = _costs(problem, scores, error)
    if solver == "milp":
        try:
            index = _milp(problem, cost, time_limit_s)
        except ImportError:
            index = None
        if index is not None:
            return _allocation(problem, index, cost, "milp")
    elif solver != "greedy":
        raise InputError(f"solver must be 'milp' or 'greedy', got {solver!r}")
    return _allocation(problem, greedy(problem, cost), cost, "greedy")


def exhaustive(problem: BudgetProblem, scores: Mapping[str, float], error: Mapping | None = None) -> Allocation:
    """Brute force over every configuration (tests and tiny models only)."""
    cost = _costs(problem, scores, error)
    n, k = cost.shape
    combos = np.array(list(itertools.product(range(k), repeat=n)))
    energies = problem.energy(np.array(problem.choices)[combos])
    feasible = energies <= problem.budget_pj
    if not feasible.any():
        raise InfeasibleBudget("no configuration fits the budget")
    objective = cost[np.arange(n), combos].sum(axis=1)
    objective[~feasible] = np.inf
    return _allocation(problem, combos[int(np.argmin(objective))], cost, "exhaustive")
