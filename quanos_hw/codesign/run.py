"""``quanos codesign``: choose per-layer bits and the accelerator together, then train and attack
only the finalists.

1. Before any file is written: the configuration, the hardware space (a grid, or ranges for the
   optimiser), the network's layers, and the constraints against what the space can reach at all
   (every point at the smallest bit choice: area exactly, energy and latency as lower bounds).
2. Warm-up (as ``quanos run``/``compare``) and the sensitivity ``metric`` on the warm network (and
   ANS for the QUANOS baseline), once.
3. Stage 1 (stage1.py; search.py beyond ``grid_limit`` points or with ranges): every candidate
   (hardware point x budget -> exact ILP bits), scored by predicted error and exact energy,
   latency, area. The constraints filter them; the finalists are at most ``finalists`` candidates
   of the Pareto front of (predicted error, objectives), spread across it (select.py).
4. Baselines: on the hardware point best for each objective at uniform 8 bits (accelerator
   first), uniform 8 and 4 bits and the QUANOS rule's bits (ANS, k_init/k_min the largest/smallest
   bit choice).
5. Stage 2 (stage2.py): every distinct configuration trained with the same QAT schedule from the
   warm-up and evaluated (clean, white-box, black-box, worst case), through ``map_trials``.
6. Outputs (outputs.py), codesign.json last (the completion marker).

The same seed gives the same candidates and finalists (the ILP is exact, the optimiser seeded,
the selection deterministic); ``resume`` skips every finished phase and trial.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from energy_models.dse import OBJECTIVES, DseTable, Workload, check_keys, expand_grid, run_dse
from energy_models.pareto import pareto_mask

from ..errors import InputError
from .config import CodesignConfig, is_numeric_axis, is_range
from .constraints import describe, meets
from .select import spread
from .stage1 import Space, at_bits, bits_text, candidate_ids, cost, evaluate
from .stage2 import phase_name, run_trials, serial, trial_task

#: the uniform widths of the baselines (the issue's "uniform 8-bit and 4-bit")
BASELINE_BITS = (8, 4)
#: the width whose best hardware point per objective is "the accelerator picked first"
ACCELERATOR_FIRST_BITS = 8


@dataclass
class CodesignResult:
    report: dict
    out_dir: Path
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """What is known before a file is written."""

    config: CodesignConfig
    search: bool
    points: list[dict]  # the grid (empty when searching)
    layers: tuple


def hardware_plan(c: CodesignConfig) -> tuple[bool, list[dict]]:
    """(search?, grid points): the grid unless the optimiser is asked for, or ``auto`` meets a range or
    a grid beyond ``grid_limit`` points; the optimiser needs a numeric axis."""
    base = c.accelerator()
    check_keys(base, set(c.sweep))
    ranges = [k for k, v in c.sweep.items() if is_range(v)]
    size = math.prod(len(v) for v in c.sweep.values() if not is_range(v))
    searching = c.search == "nsga2" or (c.search == "auto" and (bool(ranges) or size > c.grid_limit))
    if not searching:
        if ranges:
            raise InputError(f"sweep axis {ranges[0]!r} is a range: only the optimiser (search nsga2) samples ranges")
        return False, expand_grid(c.sweep, limit=None) if c.sweep else [{}]
    if not any(is_numeric_axis(v) for v in c.sweep.values()):
        raise InputError("the optimiser needs a numeric sweep axis (a list of two or more numbers, or a range "
                         f"LOW:HIGH); the sweep has {', '.join(c.sweep) or 'no axis'}")
    return True, []


def _corners(sweep: dict, limit: int) -> list[dict] | None:
    """Every list value and both ends of every range, crossed (None beyond ``limit`` points)."""
    axes = {k: [v["low"], v["high"]] if is_range(v) else v for k, v in sweep.items()}
    return expand_grid(axes, limit=None) if math.prod(len(v) for v in axes.values()) <= limit else None


def network_layers(c: CodesignConfig) -> tuple:
    from ..data import dataset_info
    from ..hardware import extract_layers
    from ..models import create_model

    info = dataset_info(c.dataset, c.image_size)
    probe = create_model(c.model, num_classes=info.num_classes, in_channels=info.input_shape[0],
                         weight_scaling=c.weight_scaling, weights=c.weights)
    return tuple(extract_layers(probe, info.input_shape))


def plan(config: CodesignConfig) -> Plan:
    """Check everything that can be checked before a file is written (see the module docstring)."""
    c = config.resolve()
    searching, points = hardware_plan(c)
    layers = network_layers(c)
    reach = points if not searching else _corners(c.sweep, c.grid_limit)
    if c.constraints and reach:
        lowest = min(c.bit_choices)
        table = run_dse(c.accelerator(), reach, [Workload(f"uniform {lowest}", at_bits(layers, [lowest] * len(layers)),
                                                          c.input_bit_width)])
        meets(table, c.constraints, what=f"hardware point (even at uniform {lowest}-bit)")
    return Plan(c, searching, points, layers)


def codesign(config: CodesignConfig, *, resume: bool = False, progress: bool = True, log=None,
             map_trials: Callable[[Callable, list], list] = serial) -> CodesignResult:
    """Run the co-design (module docstring); ``map_trials(fn, items)`` runs stage 2's trials."""
    from ..pipeline.experiment import prepare

    log = log or (lambda msg: tqdm.write(msg))
    p = plan(config)
    root = Path(p.config.out_dir)
    before = set(root.iterdir()) if root.is_dir() else None
    with prepare(p.config, resume) as setup:
        try:
            return _codesign(p, setup, progress, log, map_trials)
        except InputError:
            if not resume:  # a fresh run that stage 1 refused leaves nothing behind
                _discard(root, before)
            raise


def _discard(root: Path, before: set[Path] | None) -> None:
    """Remove what this run created in ``root``: ``root`` itself when it was not there (``before``
    None), else the entries not in ``before``; called with the folder still locked."""
    import shutil

    if before is None:
        shutil.rmtree(root, ignore_errors=True)
        return
    for path in set(root.iterdir()) - before:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)


def stage1(p: Plan, space: Space, progress: bool, log) -> tuple[list[dict], DseTable]:
    c = p.config
    if p.search:
        from .search import search

        log(f"[stage 1] NSGA-II over the hardware space: {c.search_trials} trials x {len(c.budgets)} budgets")
        bar = tqdm(total=c.search_trials, unit="point", desc="stage 1", disable=not progress)
        points, table = search(space, c.sweep, c.objectives, c.constraints, c.search_trials, c.seed, bar.update)
        bar.close()
        return points, table
    log(f"[stage 1] {len(p.points)} hardware points x {len(c.budgets)} budgets, exact ILP each")
    return p.points, evaluate(space, p.points)


def _select(c: CodesignConfig, table: DseTable) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(meets the constraints, on the front, finalist row indices)."""
    ok = meets(table, c.constraints)
    seen, unique = set(), np.zeros(len(table), dtype=bool)
    for i, key in enumerate(zip(table.columns["point"], table.columns["bits"])):
        unique[i] = ok[i] and key not in seen  # a point's budgets may give the same bits
        seen.add(key)
    costs = np.stack([table.column("predicted_error")] + [np.nan_to_num(table.column(OBJECTIVES[o]), nan=np.inf)
                                                          for o in c.objectives], axis=1)
    rows = np.flatnonzero(unique)
    front = np.zeros(len(table), dtype=bool)
    front[rows[pareto_mask(costs[rows])]] = True
    on = np.flatnonzero(front)
    finite = on[np.all(np.isfinite(costs[on]), axis=1)]
    chosen = [int(finite[i]) for i in spread(costs[finite], c.finalists)] if len(finite) else []
    return ok, front, chosen


def _baselines(c: CodesignConfig, points: list[dict], layers, ans: dict) -> list[dict]:
    """Per objective: the point best at uniform 8 bits (among those within the constraints, if any),
    with uniform 8, uniform 4 and the QUANOS rule's bits on it."""
    from ..allocation import bits_from_ans

    base, n = c.accelerator(), len(layers)
    first = run_dse(base, points, [Workload("u8", at_bits(layers, [ACCELERATOR_FIRST_BITS] * n), c.input_bit_width)])
    try:
        allowed = meets(first, c.constraints)
    except InputError:
        allowed = np.ones(len(first), dtype=bool)
    quanos = [v["weight_bit_width"] for v in bits_from_ans(ans, max(c.bit_choices), min(c.bit_choices)).values()]
    designs = {f"uniform {b}": [b] * n for b in BASELINE_BITS}
    designs["quanos rule"] = quanos
    out = []
    for objective in c.objectives:
        values = np.where(allowed, np.nan_to_num(first.column(OBJECTIVES[objective]), nan=np.inf), np.inf)
        index = int(np.argmin(values))
        table = cost(base, points[index], {name: (bits, {"bits": bits_text(bits)}) for name, bits in designs.items()},
                     layers, c.input_bit_width, index)
        for row in table.rows():
            out.append({"objective": objective, "design": row["workload"], **row})
    return out


def _codesign(p: Plan, setup, progress: bool, log, map_trials) -> CodesignResult:
    from ..pipeline.experiment import Runner
    from .outputs import write_outputs

    c, ws = p.config, setup.ws
    r = Runner(c, setup.data, ws, setup.device, progress, log)
    r.warmup()
    scores = r.warm_scores(c.metric)
    ans = scores if c.metric == "ans" else r.warm_scores("ans")
    space = Space(c.accelerator(), p.layers, scores, c.budgets, tuple(sorted(c.bit_choices)), c.input_bit_width)
    start = time.perf_counter()
    points, table = stage1(p, space, progress, log)
    stage1_s = time.perf_counter() - start
    if not len(table):
        raise InputError(f"no hardware point meets any budget of {list(c.budgets)} (fractions of its uniform "
                         f"16-bit energy) with bits from {list(c.bit_choices)}")
    table.columns["candidate"] = candidate_ids(table)
    ok, front, chosen = _select(c, table)
    log(f"[stage 1] {len(table)} candidates in {stage1_s:.1f} s; {int(ok.sum())} within the constraints "
        f"({describe(c.constraints)}); {int(front.sum())} on the front; {len(chosen)} finalists")
    baselines = _baselines(c, points, p.layers, ans)
    r.train_phase("surrogate", init=None, bits=16, quantize=False, epochs=c.warmup_epochs + c.qat_epochs, offset=0,
                  seed=c.surrogate_seed)
    rows = table.rows()
    configs = [[int(b) for b in rows[i]["bits"].split("-")] for i in chosen]
    configs += [[int(b) for b in row["bits"].split("-")] for row in baselines]
    tasks = list({phase_name(bits): trial_task(c.to_dict(), bits, quiet=not progress) for bits in configs}.values())
    log(f"[stage 2] {len(tasks)} distinct configurations to train and attack (finalists and baselines)")
    results = run_trials(ws, tasks, map_trials)
    report = write_outputs(c, ws.root, points, table, ok, front, chosen, baselines, results,
                           {"stage1_s": round(stage1_s, 2), "seconds": r.seconds()}, ws.config_hash,
                           "NSGA-II search" if p.search else "grid")
    return CodesignResult(report, ws.root, report["files"])
