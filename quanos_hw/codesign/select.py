"""Finalists: at most K candidates of a Pareto front, spread across it, the extremes included.

The front's objectives are scaled to [0, 1] (min-max over the front; a constant objective is 0).
The extremes come first, in objective order (the row minimising each objective; ties: the
earlier row); the rest are added one at a time, each time the row farthest (Euclidean, scaled)
from every row already chosen (ties: the earlier row): farthest-point sampling, deterministic.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def spread(costs, k: int) -> list[int]:
    """Indices of at most ``k`` rows of ``costs`` (front rows x objectives, all finite), in the
    order chosen: extremes first, then farthest-point."""
    c = np.asarray(costs, dtype=float)
    if k < 1:
        raise InputError(f"the number of finalists must be at least 1, got {k}")
    if c.ndim != 2 or not np.all(np.isfinite(c)):
        raise InputError("finalist selection needs a (rows, objectives) array of finite numbers")
    if len(c) <= k:
        return list(range(len(c)))
    span = c.max(axis=0) - c.min(axis=0)
    scaled = (c - c.min(axis=0)) / np.where(span > 0, span, 1.0)
    chosen: list[int] = []
    for j in range(c.shape[1]):
        best = int(np.argmin(c[:, j]))
        if best not in chosen and len(chosen) < k:
            chosen.append(best)
    distance = np.full(len(c), np.inf)
    for i in chosen:
        distance = np.minimum(distance, np.linalg.norm(scaled - scaled[i], axis=1))
    distance[chosen] = -np.inf  # a chosen row is never chosen again, even among equal rows
    while len(chosen) < k:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(scaled - scaled[nxt], axis=1))
        distance[nxt] = -np.inf
    return chosen
