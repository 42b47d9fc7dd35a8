"""``quanos codesign``'s configuration: the shared experiment keys plus the co-design's own.

The hardware space is config key ``sweep``: dotted keys of the description (as ``quanos dse``) to
a list of values (a grid axis) or to ``{low: L, high: H}`` (a numeric range, searched by the
optimiser only). ``constraints`` bound the designs (``{area: 2.0}`` = area <= 2 mm²; units in
:data:`quanos_hw.codesign.constraints.CONSTRAINTS`). ``budgets`` are fractions of the uniform
16-bit energy on each hardware point (as ``quanos compare``'s, on the point's own description).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from energy_models.dse import check_objectives

from ..allocation import DEFAULT_CHOICES
from ..errors import ConfigError, InputError
from ..pipeline.config import ExperimentConfig
from .constraints import check_constraints

#: how the hardware space is explored: every grid point, Optuna's NSGA-II, or the grid unless it is
#: larger than ``grid_limit`` points or holds a range
SEARCHES = ("auto", "grid", "nsga2")


@dataclass(frozen=True)
class CodesignConfig(ExperimentConfig):
    """``quanos codesign``: stage 1 (bits x hardware, predicted) and stage 2 (finalists, measured)."""

    hardware: str | None = "bitfusion45"
    sweep: dict = field(default_factory=dict, hash=False)
    objectives: tuple[str, ...] = ("energy", "latency", "area")
    constraints: dict = field(default_factory=dict, hash=False)
    budgets: tuple[float, ...] = (0.2, 0.25, 0.3, 0.4, 0.5)
    bit_choices: tuple[int, ...] = DEFAULT_CHOICES
    metric: str = "ans"
    metric_batches: int = 8
    finalists: int = 6
    search: str = "auto"
    grid_limit: int = 5000
    search_trials: int = 200
    out_dir: str = "codesign_results"

    def __post_init__(self) -> None:
        super().__post_init__()
        from ..sensitivity import METRICS

        if self.hardware is None:
            raise ConfigError("quanos codesign needs config key 'hardware' (an accelerator description)")
        try:
            check_objectives(list(self.objectives))
            check_constraints(self.constraints)
        except InputError as exc:
            raise ConfigError(str(exc)) from None
        if self.metric not in METRICS:
            raise ConfigError(f"config key 'metric' must be one of {METRICS.names()}, got {self.metric!r}")
        if self.search not in SEARCHES:
            raise ConfigError(f"config key 'search' must be one of {list(SEARCHES)}, got {self.search!r}")
        for key in ("budgets", "bit_choices", "objectives"):
            values = getattr(self, key)
            if not values:
                raise ConfigError(f"config key {key!r} needs at least one value")
            if len(set(values)) != len(values):
                raise ConfigError(f"config key {key!r} lists a value more than once: {list(values)}")
        if self.qat_epochs < 1:
            raise ConfigError("config key 'qat_epochs' must be at least 1 for quanos codesign (stage 2 trains "
                              "every finalist)")
        _check_sweep(self.sweep)

    @property
    def surrogate_seed(self) -> int:
        """The black-box surrogate trains from the next seed (as in quanos compare)."""
        return self.seed + 1

    def architectures(self) -> tuple[str, ...]:
        """The description's MAC and every swept one (checked before a file is written)."""
        swept = self.sweep.get("mac.architecture", [])
        base = self.accelerator().mac.architecture
        return tuple(dict.fromkeys([base, *(swept if isinstance(swept, list) else [])]))

    def metric_settings(self) -> dict:
        return {**super().metric_settings(), "max_batches": self.metric_batches}


def is_range(values) -> bool:
    """A ``{low: L, high: H}`` sweep axis (searched by the optimiser)."""
    return isinstance(values, dict)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_sweep(sweep: dict) -> None:
    """Each axis: a non-empty list of values, or a numeric range with low < high."""
    for key, values in sweep.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"config key 'sweep': keys must be dotted field names, got {key!r}")
        if is_range(values):
            if set(values) != {"low", "high"} or not _number(values["low"]) or not _number(values["high"]) or \
                    not values["low"] < values["high"]:
                raise ConfigError(f"config key 'sweep': {key} must be a list of values or {{low: L, high: H}} "
                                  f"with numbers L < H, got {values!r}")
        elif not isinstance(values, list) or not values:
            raise ConfigError(f"config key 'sweep': {key} must be a non-empty list of values or {{low: L, high: H}}")


def is_numeric_axis(values) -> bool:
    """An axis the optimiser can move along by number: a range, or a list of two or more numbers."""
    return is_range(values) or (len(values) > 1 and all(_number(v) for v in values))
