"""``quanos compare``: which way of choosing bits gives the most accurate and robust network at
the same energy?

For each seed: one float warm-up; every sensitivity metric scored on the warm network; then for
every (metric, policy) pair and every energy budget (fractions of uniform 16-bit energy on
``budget_architecture``) a hybrid network is allocated, trained (QAT, same schedule for all) and
evaluated (clean, FGSM, PGD, black-box from a per-seed float surrogate). Every policy comes
from the allocation registry; the ``uniform`` policy (the widest uniform bit-width that fits each
budget; it reads no scores) is always added as the control. Identical configurations within a
seed are trained once. Like ``quanos run``, it is an experiment of pipeline/experiment.py: the
same Runner phases, workspace and resume.

Policies read scores differently, on purpose: ``budget_ilp`` treats a score as *accuracy*
sensitivity (a higher score buys more bits, HAWQ-style); ``quanos_rule`` treats it as *noise*
sensitivity (a higher score gets fewer bits, QUANOS), between the smallest and largest bit
choice. The table shows what each view buys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..allocation import POLICIES, BudgetProblem, InfeasibleBudget
from ..errors import ConfigError
from ..executor import Executor, Trial, using
from ..io import atomic_write_text, dumps_strict
from ..robustness import accuracy_columns, reference_label
from ..sensitivity import METRICS
from .config import ExperimentConfig
from .experiment import (
    Runner,
    TrainPhase,
    TrialContext,
    evaluate_trial,
    prepare,
    run_pending,
    runs_here,
    train_trial,
    trial_context,
)

DEFAULT_COMBOS = ("ans:budget_ilp", "hessian_trace:budget_ilp", "weight_noise:budget_ilp", "random:budget_ilp",
                  "ans:quanos_rule")
#: the control every comparison includes: a policy that reads no scores
CONTROL = "uniform"


@dataclass(frozen=True)
class CompareConfig(ExperimentConfig):
    """``quanos compare``: the shared experiment keys plus the comparison's own."""

    combos: tuple[str, ...] = DEFAULT_COMBOS
    budgets: tuple[float, ...] = (0.25, 0.35, 0.5)
    budget_architecture: str = "data_gated"
    bit_choices: tuple[int, ...] = (2, 3, 4, 6, 8, 12, 16)
    seeds: tuple[int, ...] = (0, 1, 2)
    metric_batches: int = 8
    out_dir: str = "compare_results"

    def __post_init__(self) -> None:
        super().__post_init__()
        from energy_models import list_architectures

        for combo in self.combos:
            metric, _, policy = combo.partition(":")
            if metric not in METRICS or policy not in POLICIES:
                raise ConfigError(f"combo {combo!r} must be metric:policy with a metric in {METRICS.names()} and a "
                                  f"policy in {POLICIES.names()}")
        # numbers are checked against quanos_hw.bounds.CONFIG_RANGES by ExperimentConfig; here what
        # a table cannot say: non-empty, distinct
        for key in ("budgets", "bit_choices", "seeds"):
            values = getattr(self, key)
            if not values:
                raise ConfigError(f"config key {key!r} needs at least one value")
            if len(set(values)) != len(values):
                raise ConfigError(f"config key {key!r} lists a value more than once: {list(values)}")
        if self.budget_architecture not in list_architectures():
            raise ConfigError(f"unknown MAC architecture {self.budget_architecture!r}")

    @property
    def surrogate_seed(self) -> int:
        """Each seed's black-box surrogate is trained from the next seed."""
        return self.seed + 1

    def architectures(self) -> tuple[str, ...]:
        return (self.budget_architecture,)

    def metric_settings(self) -> dict:
        return {**super().metric_settings(), "max_batches": self.metric_batches}

    def cells(self) -> tuple[str, ...]:
        """The combos of the table: the configured ones, then the control (a policy name alone)."""
        return (*self.combos, CONTROL)


def cell_key(combo: str, budget: float) -> str:
    """The name of one policy x budget cell in compare.json (also read by quanos dse)."""
    return f"{combo.replace(':', '-')}@{budget:g}"


def _allocate(combo: str, scores: dict, problem: BudgetProblem):
    """``metric:policy`` (or a policy alone, which reads no scores) through the policy registry."""
    metric, _, policy = combo.rpartition(":")
    return POLICIES.get(policy)(problem, scores[metric] if metric else None)


def _seed_runner(c: CompareConfig, seed: int, make) -> Runner:
    """The Runner of one seed (phases prefixed ``s{seed}_``); ``make(prefix, config)`` builds it."""
    return make(f"s{seed}_", dataclasses.replace(c, seed=seed))


def _metrics(c: CompareConfig) -> list[str]:
    return sorted({combo.partition(":")[0] for combo in c.combos})


def _scores(r: Runner, c: CompareConfig, log) -> dict:
    """The seed's warm-up and every metric's scores on the warm network."""
    r.warmup()
    scores = {}
    for metric in _metrics(c):
        scores[metric] = r.warm_scores(metric)
    return scores


def scores_trial(ctx: TrialContext, seed: int) -> dict:
    """A trial: one seed's warm-up and sensitivity scores."""
    c = ctx.config
    return _scores(_seed_runner(c, seed, ctx.runner), c, ctx.log)


def _plan(c: CompareConfig, scores: dict, layers) -> tuple[dict, dict]:
    """Every cell's allocation from the seed's scores, and the distinct bit lists to train (bits -> phase)."""
    cells, trained, accelerator = {}, {}, c.accelerator()
    for budget in c.budgets:
        problem = BudgetProblem.from_fraction(layers, c.budget_architecture, budget, choices=c.bit_choices,
                                              technology=c.technology, dataflow=c.dataflow,
                                              input_bit_width=c.input_bit_width, accelerator=accelerator)
        for combo in c.cells():
            try:
                alloc = _allocate(combo, scores, problem)
            except InfeasibleBudget as exc:
                cells[cell_key(combo, budget)] = {"combo": combo, "budget": budget, "infeasible": str(exc)}
                continue
            signature = tuple(alloc.bit_list())
            phase = trained.setdefault(signature, f"hybrid_{'-'.join(map(str, signature))}")
            cells[cell_key(combo, budget)] = {"combo": combo, "budget": budget, "phase": phase, "bits": alloc.bits,
                                          "energy_fraction": alloc.energy_pj / problem.uniform16_pj,
                                          "solver": alloc.solver}
    return cells, trained


def _trainings(sc: CompareConfig, trained: dict, layers) -> list[TrainPhase]:
    """The hybrid trainings of seed ``sc.seed`` (from its warm weights) and its surrogate."""
    W, Q = sc.warmup_epochs, sc.qat_epochs
    out = []
    for phase, signature in {v: k for k, v in trained.items()}.items():
        bits = {layer.name: {"weight_bit_width": b, "act_bit_width": b} for layer, b in zip(layers, signature)}
        out.append(TrainPhase(phase, init="warmup", bits=bits, quantize=True, epochs=Q, offset=W))
    return out + [TrainPhase("surrogate", init=None, bits=16, quantize=False, epochs=W + Q, offset=0,
                             seed=sc.surrogate_seed)]


def _seed_results(c: CompareConfig, r: Runner, layers, log) -> dict:
    """One seed's scores and cells, read from its finished phases (each checked as it is read)."""
    scores = _scores(r, c, log)
    cells, trained = _plan(c, scores, layers)
    for spec in _trainings(r.c, trained, layers):
        r.train(spec)
    robustness = r.evaluate_all({phase: phase for phase in trained.values()})
    for cell in cells.values():
        if "phase" in cell:
            cell["robustness"] = robustness[cell["phase"]]
    return {"scores": scores, "cells": cells}


def _summary(c: CompareConfig, per_seed: dict[int, dict]) -> list[dict]:
    rows = []
    for budget in c.budgets:
        for combo in c.cells():
            cells = [per_seed[s]["cells"][cell_key(combo, budget)] for s in c.seeds]
            ok = [cell for cell in cells if "robustness" in cell]
            row = {"budget": budget, "combo": combo, "seeds": len(ok), "infeasible": len(cells) - len(ok)}
            if ok:
                def stat(values):
                    return {"mean": float(np.mean(values)), "std": float(np.std(values))}
                columns = [accuracy_columns(cell["robustness"]) for cell in ok]
                row["accuracy"] = {label: stat([col[label] for col in columns]) for label in columns[0]}
                row["reference"] = reference_label(ok[0]["robustness"])
                row["energy_fraction"] = stat([cell["energy_fraction"] for cell in ok])
                row["mean_bits"] = stat([np.mean([v["weight_bit_width"] for v in cell["bits"].values()])
                                         for cell in ok])
                row["checks_failed"] = sum(not cell["robustness"]["all_checks_passed"] for cell in ok)
            rows.append(row)
    return rows


def _markdown(c: CompareConfig, rows: list[dict]) -> str:
    columns = next((list(row["accuracy"]) for row in rows if row["seeds"]), [])
    head = (["budget", "metric:policy", "energy / u16", "mean bits"] + [f"{label} %" for label in columns]
            + ["seeds", "checks failed"])
    hardware = f"accelerator {c.hardware}" if c.hardware is not None else f"{c.technology}, {c.dataflow}"
    lines = [f"# Iso-energy comparison: {c.model} on {c.dataset}", "",
             f"Budgets are fractions of the uniform 16-bit energy on {c.budget_architecture} ({hardware}); "
             f"bit choices {list(c.bit_choices)}; seeds {list(c.seeds)}; {c.warmup_epochs} float "
             f"warm-up + {c.qat_epochs} QAT epochs; mean ± std over seeds. budget_ilp gives more bits to higher "
             "scores (accuracy sensitivity); quanos_rule gives fewer bits to higher scores (noise sensitivity); "
             "uniform is the widest uniform width within the budget.", "",
             "Reproduce: `quanos compare --config " + f"{c.out_dir}/config.json --out NEW_DIR`", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def pct(s):
        return f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}"

    for row in rows:
        if row["seeds"] == 0:
            lines.append(f"| {row['budget']:g} | {row['combo']} | infeasible |" + " |" * (len(head) - 3))
            continue
        cells = [f"{row['budget']:g}", row["combo"], f"{row['energy_fraction']['mean']:.3f}",
                 f"{row['mean_bits']['mean']:.2f}"] + [pct(row["accuracy"][label]) for label in columns] + [
            str(row["seeds"]), str(row["checks_failed"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![Iso-energy Pareto](compare_pareto.png)", ""]
    return "\n".join(lines)


def _plot(c: CompareConfig, rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    from .plots import save_figure

    fig = Figure(figsize=(11, 4.2))
    combos = c.cells()
    markers = "osD^vP*X"
    reference = next((r["reference"] for r in rows if r["seeds"]), "")
    for col, (metric, label) in enumerate((("clean", "clean accuracy (%)"), (reference, f"{reference} accuracy (%)"))):
        ax = fig.add_subplot(1, 2, col + 1)
        for i, combo in enumerate(combos):
            pts = sorted((r["energy_fraction"]["mean"], 100 * r["accuracy"][metric]["mean"],
                          100 * r["accuracy"][metric]["std"]) for r in rows if r["combo"] == combo and r["seeds"])
            if pts:
                xs, ys, es = zip(*pts)
                ax.errorbar(xs, ys, yerr=es, marker=markers[i % len(markers)], capsize=3, label=combo)
        ax.set_xlabel(f"energy / uniform 16-bit ({c.budget_architecture})")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.suptitle(f"Iso-energy comparison of sensitivity metrics and policies ({c.model}, {c.dataset})")
    save_figure(fig, path)


def compare(config: CompareConfig, *, resume: bool = False, progress: bool = True, log=None,
            executor: Executor | None = None) -> dict:
    """Run the iso-energy comparison; write compare_pareto.png, compare.md, then compare.json last
    (the completion marker). ``executor`` runs the trials (quanos_hw/executor; default: serial): each
    seed's warm-up and scores, then every seed's hybrid trainings and surrogate, then each seed's evaluation."""
    log = log or (lambda msg: tqdm.write(msg))
    # the results folder stays locked until the comparison ends
    with using(executor) as executor, prepare(config, resume, local_device=runs_here(executor)) as setup:
        return _compare(setup, progress, log, executor)


def _run_trials(c: CompareConfig, setup, executor: Executor, ctx: TrialContext, runners: dict, log) -> None:
    """The trials not finished yet, in three batches: scores, trainings, evaluations (each needs the last)."""
    layers = setup.layers
    run_pending(executor, ctx, [Trial(f"s{seed}_scores", scores_trial, (seed,)) for seed, r in runners.items()
                                if any(r.done(p) is None for p in ["warmup"] + [f"scores_{m}" for m in _metrics(c)])])
    trainings, evaluations = [], []
    for r in runners.values():
        _, trained = _plan(c, _scores(r, c, log), layers)
        trainings += [Trial(r.prefix + spec.phase, train_trial, (r.prefix, r.c, (spec,)))
                      for spec in _trainings(r.c, trained, layers) if r.done(spec.phase) is None]
        models = {phase: phase for phase in trained.values()}
        if any(r.done(f"eval_{name}") is None for name in models):
            evaluations.append(Trial(f"{r.prefix}evaluate", evaluate_trial, (r.prefix, r.c, models)))
    run_pending(executor, ctx, trainings)
    run_pending(executor, ctx, evaluations)


def _compare(setup, progress: bool, log, executor: Executor) -> dict:
    c, ws = setup.config, setup.ws
    ctx = trial_context(setup, executor, progress, log)
    runners = {seed: _seed_runner(c, seed, lambda prefix, sc: Runner(sc, setup.data, ws, setup.device, progress, log,
                                                                     prefix=prefix)) for seed in c.seeds}
    _run_trials(c, setup, executor, ctx, runners, log)
    per_seed = {seed: _seed_results(c, r, setup.layers, log) for seed, r in runners.items()}
    rows = _summary(c, per_seed)
    report = {"config": c.to_dict(), "config_hash": ws.config_hash, "summary": rows,
              "per_seed": {str(s): v for s, v in per_seed.items()}}
    if c.hardware is not None:  # the description the budgets were computed on
        report["hardware"] = c.accelerator().to_dict()
    text = dumps_strict(report, indent=1) + "\n"  # strict JSON, checked before any file is written
    _plot(c, rows, ws.root / "compare_pareto.png")
    atomic_write_text(ws.root / "compare.md", _markdown(c, rows))
    atomic_write_text(ws.root / "compare.json", text)
    return report
