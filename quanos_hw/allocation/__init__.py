"""Bit allocation policies, registered by name: ``policy(problem, scores) -> Allocation``, where
``problem`` is a :class:`BudgetProblem` (layers, hardware, energy budget, bit choices) and
``scores`` the per-layer sensitivities.

``quanos_rule``: k = k_init - round(ANS * k_init) (the paper), at a budget the same rule on
scaled scores; ``budget_ilp``: the sensitivity-weighted error proxy minimised under an energy
budget, exactly (scipy.optimize.milp) or greedily; ``uniform``: the widest uniform width within
the budget (the control; it ignores the scores).
"""

from energy_models.registry import Registry

from .budget import DEFAULT_CHOICES, Allocation, BudgetProblem, InfeasibleBudget, weight_error_proxy
from .budget_ilp import budget_ilp, exhaustive, greedy
from .quanos_rule import bits_from_ans, quanos_bits, quanos_rule_bits, quanos_rule_for_budget
from .uniform import uniform

POLICIES: Registry = Registry("allocation policy")
POLICIES.register("quanos_rule")(quanos_rule_for_budget)
POLICIES.register("budget_ilp")(budget_ilp)
POLICIES.register("uniform")(uniform)

__all__ = ["DEFAULT_CHOICES", "POLICIES", "Allocation", "BudgetProblem", "InfeasibleBudget", "bits_from_ans",
           "budget_ilp", "exhaustive", "greedy", "quanos_bits", "quanos_rule_bits", "quanos_rule_for_budget",
           "uniform", "weight_error_proxy"]
