"""Stage 1 on a hardware space too large for a grid: Optuna's NSGA-II over the same evaluation.

Why NSGA-II (``optuna.samplers.NSGAIISampler``, Optuna 5): the problem has several objectives
to trade off (the predicted quantization error and the hardware objectives), mixed axes (numeric
ranges, lists of numbers, MAC architecture names) and hard limits (the constraints), and that
sampler handles all three (``Trial.set_constraint``, Optuna >= 5) with a seed for repeatable runs; Optuna is
maintained and imported here only.

Each trial is one hardware point, evaluated by :func:`quanos_hw.codesign.stage1.evaluate` (every
budget of the ladder, exact ILP); it scores the point by the mean of each objective over its
candidates (log10 of the predicted error) and its constraint violations by the smallest excess
over each bound. Points seen before are not evaluated again; a point the description refuses
(e.g. a buffer too small for one word) is a failed trial.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from energy_models.dse import OBJECTIVES, DseTable

from ..errors import InputError
from .config import is_range
from .constraints import CONSTRAINTS
from .stage1 import Space, concat, evaluate


def _suggest(trial, key: str, values):
    if is_range(values):
        low, high = values["low"], values["high"]
        if isinstance(low, int) and isinstance(high, int):
            return trial.suggest_int(key, low, high)
        return trial.suggest_float(key, float(low), float(high))
    return trial.suggest_categorical(key, values)


def _scores(table: DseTable, objectives, constraints: dict) -> tuple[list[float], list[float]]:
    values = [float(np.mean(np.log10(np.maximum(table.column("predicted_error"), 1e-300))))]
    values += [float(np.mean(np.nan_to_num(table.column(OBJECTIVES[o]), nan=1e300))) for o in objectives]
    excess = []
    for name, bound in constraints.items():
        column, factor, _ = CONSTRAINTS[name]
        excess.append(float(np.min(np.nan_to_num(table.column(column), nan=1e300) / factor - bound)))
    return values, excess


def search(space: Space, sweep: dict, objectives, constraints: dict, trials: int, seed: int,
           progress=None) -> tuple[list[dict], DseTable]:
    """The hardware points NSGA-II visited (in order, each once) and their candidates."""
    try:
        import optuna
    except ImportError:
        raise InputError("searching the hardware space needs Optuna: pip install 'quanos-hw[codesign]' "
                         "(or use a grid: config key search=grid)") from None
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, trials // 4)))
            study = optuna.create_study(directions=["minimize"] * (1 + len(objectives)), sampler=sampler)
            return _run(study, space, sweep, objectives, constraints, trials, progress)
    finally:
        logger.setLevel(level)


def _run(study, space, sweep, objectives, constraints, trials, progress):
    from optuna.trial import TrialState

    points, tables, seen = [], [], {}
    for _ in range(trials):
        trial = study.ask()
        try:
            point = {key: _suggest(trial, key, values) for key, values in sweep.items()}
        except ValueError as exc:  # a list value Optuna cannot hold (a mapping, a list)
            raise InputError(f"config key 'sweep': {exc}") from None
        key = tuple(sorted((k, repr(v)) for k, v in point.items()))
        if key not in seen:
            try:
                table = evaluate(space, [point], first_index=len(points))
            except InputError:
                table = None
            seen[key] = table
            if table is not None:
                points.append(point)
                tables.append(table)
        table = seen[key]
        if table is None or not len(table):
            study.tell(trial, state=TrialState.FAIL)
        else:
            values, excess = _scores(table, objectives, constraints)
            for name, value in zip(constraints, excess):
                trial.set_constraint(name, value)  # feasible when <= 0 (Optuna >= 5)
            study.tell(trial, values)
        if progress:
            progress(1)
    if not points:
        raise InputError(f"none of the {trials} hardware points the optimiser tried is a valid description")
    return points, concat(tables)
