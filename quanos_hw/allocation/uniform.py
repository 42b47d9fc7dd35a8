"""The control policy: one bit-width for every layer, the widest of the choices within the budget.

It ignores the sensitivity scores; it is what a policy that reads them must beat.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .budget import Allocation, BudgetProblem, InfeasibleBudget


def uniform(problem: BudgetProblem, scores: Mapping[str, float] | None = None) -> Allocation:
    """The widest uniform width from ``problem.choices`` whose energy fits the budget."""
    for b in sorted(problem.choices, reverse=True):
        energy = float(problem.energy(np.full((1, len(problem.layers)), b))[0])
        if energy <= problem.budget_pj:
            bits = {layer.name: {"weight_bit_width": b, "act_bit_width": b} for layer in problem.layers}
            return Allocation(bits, energy, problem.budget_pj, 0.0, "uniform")
    raise InfeasibleBudget("no uniform width fits the budget")
