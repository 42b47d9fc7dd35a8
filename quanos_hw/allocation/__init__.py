"""Bit allocation policies: sensitivity scores (and an energy budget) -> a bit configuration.

``quanos_rule``: k = k_init - round(ANS * k_init) (the paper), or at a budget the same rule on
scaled scores; ``budget_ilp``: the sensitivity-weighted error proxy minimised under an energy
budget, exactly (scipy.optimize.milp) or greedily.
"""

from energy_models.registry import Registry

from .budget import DEFAULT_CHOICES, BudgetProblem, InfeasibleBudget, weight_error_proxy
from .budget_ilp import Allocation, budget_ilp, exhaustive, greedy
from .quanos_rule import bits_from_ans, quanos_bits, quanos_rule_for_budget

POLICIES: Registry = Registry("allocation policy")
POLICIES.register("quanos_rule")(quanos_rule_for_budget)
POLICIES.register("budget_ilp")(budget_ilp)

__all__ = ["DEFAULT_CHOICES", "POLICIES", "Allocation", "BudgetProblem", "InfeasibleBudget", "bits_from_ans",
           "budget_ilp", "exhaustive", "greedy", "quanos_bits", "quanos_rule_for_budget", "weight_error_proxy"]
