"""A seeded random sensitivity per layer: the control every real metric must beat."""

from __future__ import annotations

import numpy as np
from torch import nn

from ..data import Batches
from ..quantization import quant_layers


def random_scores(model: nn.Module, data: Batches | None = None, seed: int = 0,
                  progress: bool = False) -> dict[str, float]:
    """Uniform(0, 1) scores, one per quantizable layer, from ``seed`` (the data is not used;
    ``progress`` is accepted like every metric's, and there is nothing to show)."""
    names = list(quant_layers(model))
    values = np.random.default_rng(seed).uniform(0.0, 1.0, size=len(names))
    return {name: float(v) for name, v in zip(names, values)}
