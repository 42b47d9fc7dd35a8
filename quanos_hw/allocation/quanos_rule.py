"""The QUANOS bit rule (Panda, arXiv 2004.11233, Algorithm 1): fewer bits for noisier layers.

    k_l = clamp(k_init - round(ANS_l * k_init), k_min, k_init)

``round`` is half-up (floor(v + 0.5)): ANS * k_init = 2.5 gives 3, so k = 13 at k_init = 16
(Python's round() would give 2 by banker's rounding). ANS = 0 gives k_init; ANS >= 1 gives
k_min. The same k_l is used for the layer's weights and activations unless ``act_bits`` fixes
the activations. ``first_last`` optionally overrides the first and last layers: ``"keep"``
(k_init) or an integer bit-width. :func:`quanos_rule_bits` is the rule, the one place it is
written; :func:`bits_from_ans` (the paper) and :func:`quanos_rule_for_budget` (the same rule on
scaled scores, at an energy budget) apply it.
"""

from __future__ import annotations

import math

import numpy as np

from ..bitconfig import check_bits
from ..errors import InputError
from .budget import Allocation, BudgetProblem, InfeasibleBudget


def quanos_rule_bits(scores: np.ndarray, k_init: int, k_min: int) -> np.ndarray:
    """The rule on an array of scores >= 0 (inf gives k_min): clamp(k_init - floor(s * k_init + 0.5))."""
    return np.clip(k_init - np.floor(np.asarray(scores, dtype=float) * k_init + 0.5), k_min, k_init).astype(int)


def quanos_bits(ans: float, k_init: int = 16, k_min: int = 2) -> int:
    if isinstance(ans, bool) or not isinstance(ans, (int, float)) or math.isnan(ans) or ans < 0:
        raise InputError(f"ANS must be a number >= 0, got {ans!r}")
    return int(quanos_rule_bits(np.array([ans]), k_init, k_min)[0])


def bits_from_ans(
    ans: dict[str, float],
    k_init: int = 16,
    k_min: int = 2,
    first_last: str | int | None = None,
    act_bits: int | None = None,
) -> dict[str, dict[str, int]]:
    """Bit configuration from per-layer ANS (layer order = the dict's order, i.e. the model's)."""
    k_init, k_min = check_bits(k_init, "k_init"), check_bits(k_min, "k_min")
    if k_min > k_init:
        raise InputError(f"k_min ({k_min}) must not exceed k_init ({k_init})")
    if not ans:
        raise InputError("ANS is empty: the model has no quantizable layers")
    if act_bits is not None:
        act_bits = check_bits(act_bits, "act_bits")
    bits = {name: quanos_bits(value, k_init, k_min) for name, value in ans.items()}
    if first_last is not None:
        if first_last == "keep":
            edge = k_init
        elif isinstance(first_last, int) and not isinstance(first_last, bool):
            edge = check_bits(first_last, "first_last")
        else:
            raise InputError(f"first_last must be None, 'keep' or a bit-width, got {first_last!r}")
        names = list(bits)
        bits[names[0]] = bits[names[-1]] = edge
    return {name: {"weight_bit_width": k, "act_bit_width": k if act_bits is None else act_bits}
            for name, k in bits.items()}


def quanos_rule_for_budget(problem: BudgetProblem, scores: dict[str, float], iterations: int = 60) -> Allocation:
    """The QUANOS rule on scaled scores, k_l = clamp(k_init - round(lam * s_l * k_init), k_min, k_init),
    with k_init and k_min the largest and smallest of ``problem.choices`` (any integer width in
    between may come out) and the smallest scale ``lam`` whose configuration meets ``problem``'s
    energy budget (bisection; energy does not increase with ``lam``). lam = 1 is the paper's rule."""
    k_init, k_min = max(problem.choices), min(problem.choices)
    names = [layer.name for layer in problem.layers]
    s = np.array([float(scores[n]) for n in names])
    if np.any(~(s >= 0)):
        raise InputError("sensitivity scores must be numbers >= 0")

    def energy(lam: float) -> float:
        return float(problem.energy(quanos_rule_bits(lam * s, k_init, k_min)[None, :])[0])

    positive = s[s > 0]
    hi = (k_init + 1) / (positive.min() * k_init) if positive.size else 0.0
    if energy(hi) > problem.budget_pj:
        raise InfeasibleBudget(f"the QUANOS rule cannot meet {problem.budget_pj:.4g} pJ with these scores")
    lo = 0.0
    if energy(lo) > problem.budget_pj:
        for _ in range(iterations):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if energy(mid) <= problem.budget_pj else (mid, hi)
        lam = hi
    else:
        lam = 0.0
    b = quanos_rule_bits(lam * s, k_init, k_min)
    config = {n: {"weight_bit_width": int(v), "act_bit_width": int(v)} for n, v in zip(names, b)}
    return Allocation(config, energy(lam), problem.budget_pj, float(lam), "quanos_rule")
