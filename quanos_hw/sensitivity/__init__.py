"""Per-layer sensitivity metrics, registered by name; each returns {layer name: score >= 0}.

``ans`` (default; QUANOS), ``hessian_trace`` (HAWQ-V2), ``weight_noise`` and ``random`` (a
control). A metric is a function ``metric(model, data, *, <options>, progress=False)``: its
keyword parameters are the options it declares, typed by their annotations
(:func:`metric_options`); :func:`compute_sensitivity` runs one by name and refuses an option it
does not declare. ``data`` is a TensorData or any iterable of ``(images, labels)`` batches (a
DataLoader, taken with its own batch size).
"""

from __future__ import annotations

import inspect
import typing

from energy_models.registry import Registry

from ..errors import InputError
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

#: parameters of every metric that are not options
_NOT_OPTIONS = ("model", "data", "progress")


def metric_options(name: str) -> dict[str, object]:
    """The options metric ``name`` declares: {option: its type annotation}, in signature order."""
    fn = METRICS.get(name)
    hints = typing.get_type_hints(fn)
    return {p: hints[p] for p in inspect.signature(fn).parameters if p not in _NOT_OPTIONS}


def check_metric_options(name: str, options: typing.Mapping[str, object]) -> None:
    """InputError naming the options ``name`` does not declare (a misspelling is never dropped)."""
    accepted = metric_options(name)
    unknown = sorted(str(k) for k in options if k not in accepted)
    if unknown:
        raise InputError(f"sensitivity metric {name!r} has no option(s) {', '.join(unknown)}; "
                         f"its options are: {', '.join(accepted) or 'none'}")


def compute_sensitivity(name: str, model, data, *, progress: bool = False, **options) -> dict[str, float]:
    """Run metric ``name`` with ``options``; an option it does not declare is an InputError."""
    check_metric_options(name, options)
    return METRICS.get(name)(model, data, progress=progress, **options)


__all__ = ["METRICS", "adversarial_noise_sensitivity", "capture_activations", "check_metric_options",
           "compute_sensitivity", "hessian_trace", "hutchinson", "metric_options", "random_scores", "weight_noise"]
