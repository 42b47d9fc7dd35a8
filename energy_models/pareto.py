"""Exact Pareto fronts (minimisation) over any number of objectives.

A point is on the front when no other point is at least as good in every objective and strictly
better in one. The algorithm sorts the points lexicographically; the first remaining point is
always non-dominated (a point dominating it would sort before it), so it joins the front and
every remaining point it dominates is dropped in one vectorised comparison. The cost is
O(n * front size * objectives). Equal points do not dominate each other: ties are all kept.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError


def pareto_mask(costs) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``costs`` (shape (points, objectives); smaller is
    better; NaN is refused)."""
    c = np.asarray(costs, dtype=float)
    if c.ndim != 2:
        raise InputError(f"Pareto costs must be a (points, objectives) array, got shape {c.shape}")
    if c.size and not np.all(np.isfinite(c) | np.isposinf(c)):
        raise InputError("Pareto costs must be numbers or +inf (no NaN, no -inf)")
    mask = np.zeros(c.shape[0], dtype=bool)
    if c.shape[0] == 0 or c.shape[1] == 0:
        mask[:] = c.shape[1] == 0
        return mask
    remaining = np.lexsort(c.T[::-1])
    while remaining.size:
        best = remaining[0]
        mask[best] = True
        rest = remaining[1:]
        dominated = np.all(c[rest] >= c[best], axis=1) & np.any(c[rest] > c[best], axis=1)
        remaining = rest[~dominated]
    return mask


def pareto_front(costs) -> np.ndarray:
    """Indices of the non-dominated rows, in input order."""
    return np.flatnonzero(pareto_mask(costs))
