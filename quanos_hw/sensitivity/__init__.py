"""Per-layer sensitivity metrics, registered by name; each returns {layer name: score >= 0}.

``ans`` (default; QUANOS), ``hessian_trace`` (HAWQ-V2), ``weight_noise`` and ``random`` (a
control). :func:`compute_sensitivity` calls any of them with the options it understands.
"""

from __future__ import annotations

import inspect

from energy_models.registry import Registry

from .ans import adversarial_noise_sensitivity
from .base import capture_activations
from .hessian_trace import hessian_trace, hutchinson
from .random import random_scores
from .weight_noise import weight_noise

METRICS: Registry = Registry("sensitivity metric")
METRICS.register("ans")(adversarial_noise_sensitivity)
METRICS.register("hessian_trace")(hessian_trace)
METRICS.register("weight_noise")(weight_noise)
METRICS.register("random")(random_scores)


def compute_sensitivity(name: str, model, data, **options) -> dict[str, float]:
    """Run metric ``name``, passing only the options its signature accepts (eps, seed, ...)."""
    fn = METRICS.get(name)
    accepted = inspect.signature(fn).parameters
    return fn(model, data, **{k: v for k, v in options.items() if k in accepted})


__all__ = ["METRICS", "adversarial_noise_sensitivity", "capture_activations", "compute_sensitivity",
           "hessian_trace", "hutchinson", "random_scores", "weight_noise"]
