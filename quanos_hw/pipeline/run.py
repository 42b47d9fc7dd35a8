"""The QUANOS experiment end to end (Panda, arXiv 2004.11233, Algorithm 1) and its baselines.

Phases (each skipped on ``resume`` once finished; training phases resume mid-way):

1. ``warmup``: a randomly initialised network trained ``warmup_epochs`` epochs: float by default,
   or quantized at ``warmup_bits`` (Algorithm 1's "say, 16-bit" network; see :meth:`Runner.warmup`).
2. ``ans_i``: per-layer scores of the sensitivity ``metric`` on the current network (default ANS,
   FGSM at ``ans_eps``; any metric of the registry, with its ``metric_options``) -> bits by the
   QUANOS rule.
3. ``quanos_i``: the hybrid network, built from the previous weights, trained (QAT) for its
   share of ``qat_epochs``. Steps 2-3 repeat ``iterations`` times (the iterative form).
4. Baselines from the same warm weights, data order and schedule: ``float32`` (quantizers
   off), ``uniform{b}`` for each b in ``uniform_bits``, and the iso-size uniform width (the
   uniform bit-width whose weight storage is closest to the hybrid's; reused when it is one
   of ``uniform_bits``).
5. ``surrogate``: an independent float network (another seed) for black-box transfer attacks.
6. ``eval_<model>``: clean accuracy, every configured attack (white-box, and black-box from the
   surrogate) and the large-eps probe, with sanity checks (quanos_hw.robustness).

Energy and size of every quantized model come from energy_models on every configured MAC
architecture; the report and plots are written at the end (atomically).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn
from tqdm.auto import tqdm

from energy_models.bits import MAX_BITS, MIN_BITS

from ..allocation import bits_from_ans
from ..data import Batches
from ..errors import InputError, WorkspaceError
from ..executor import Executor, Trial, using
from ..models.converted import describe
from .config import RunConfig
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
from .user_data import user_dataset


@dataclass
class RunResult:
    report: dict
    out_dir: Path
    files: list[str] = field(default_factory=list)


#: the keys of an ``ans_i`` phase's state
ANS_KEYS = ("source", "metric", "ans", "bits", "samples")


def qat_shares(total: int, parts: int) -> list[int]:
    """Split the QAT epoch budget over the iterations (earlier iterations get the remainder)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def iso_size_bits(weights: list[int], hybrid_bits: list[int]) -> int:
    """Uniform width whose weight storage is closest to the hybrid's (ties: the larger width)."""
    target = sum(w * b for w, b in zip(weights, hybrid_bits))
    total = sum(weights)
    return min(range(MAX_BITS, MIN_BITS - 1, -1), key=lambda b: abs(total * b - target))


class QuanosRunner(Runner):
    """The run's own phase: sensitivity scores -> bits by the QUANOS rule."""

    c: RunConfig

    def ans_phase(self, phase: str, source: str) -> dict:
        state = self.done(phase, ANS_KEYS)
        if state is not None:
            return self.check_ans(phase, source, state)
        c = self.c
        what = (f"adversarial noise sensitivity on {source} (FGSM eps {c.ans_eps:.4g})" if c.metric == "ans" else
                f"{c.metric} sensitivity on {source}")
        self.log(f"[{self.prefix}{phase}] {what}")
        start = time.perf_counter()
        scores = self.scores(source, c.metric)
        bits = bits_from_ans(scores, c.k_init, c.k_min, c.first_last)
        self.timing[self.prefix + phase] = time.perf_counter() - start
        samples = min(len(self.data.train), c.ans_batches * c.ans_batch_size)
        return self.finish(phase, {"source": source, "metric": c.metric, "ans": scores, "bits": bits,
                                   "samples": samples})

    def check_ans(self, phase: str, source: str, state: dict) -> dict:
        """A finished ``ans_i`` state, if its bits are the QUANOS rule applied to its stored scores
        under this configuration (re-derived, not trusted), for this model's layers and source."""
        c, path = self.c, str(self.ws.state_path(self.prefix + phase))
        scores, names = state["ans"], self.layer_names()

        def refuse(why: str):
            return WorkspaceError(f"state file {path!r} is inconsistent: {why}; delete it (and its .sha256) to "
                                  "recompute that phase with --resume")

        if state["source"] != source or state["metric"] != c.metric:
            raise refuse(f"it scores {state['source']!r} with {state['metric']!r}, this phase scores {source!r} "
                         f"with {c.metric!r}")
        if not isinstance(scores, dict) or sorted(scores) != sorted(names) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in scores.values()):
            raise refuse(f"its scores must be one finite number for each of the layers {names}")
        try:
            derived = bits_from_ans({n: scores[n] for n in names}, c.k_init, c.k_min, c.first_last)
        except InputError as exc:
            raise refuse(f"its bits cannot be re-derived ({exc})") from None
        if state["bits"] != derived:
            stored = state["bits"] if isinstance(state["bits"], dict) else {}
            layer = next((n for n in names if stored.get(n) != derived[n]), names[0])
            raise refuse(f"its bits are not the QUANOS rule applied to its scores (layer {layer!r}: stored "
                         f"{stored.get(layer)}, derived {derived[layer]})")
        return state


def run(config: RunConfig | None = None, *, model: str | nn.Module | None = None, train: Batches | None = None,
        test: Batches | None = None, resume: bool = False, progress: bool = True, log=None,
        executor: Executor | None = None) -> RunResult:
    """Run the QUANOS experiment described by ``config`` (default: ``RunConfig()``); return the report
    and the files written.

    Your own network and data (docs: README "Your own model and data"):

    * ``model``: a model name or source string (sets config key ``model``), or an ``nn.Module``: each
      phase trains a converted copy of it (quanos_hw/convert.py; the object itself is never changed),
      and config key ``model`` records its class as ``module:QualifiedName``.
    * ``train``, ``test``: both or neither; a TensorData or any iterable of ``(images, labels)``
      batches (a DataLoader), images in [0, 1] (or uint8), gathered into memory once. They replace
      config key ``dataset``, whose attack budgets and augmentation still fill the keys the config
      leaves unset (set ``ans_eps`` and ``attacks`` for your data); the classes are 0..max label.

    ``executor`` runs the independent trainings after the warm-up (the QUANOS iterations, each baseline,
    the surrogate) and the evaluation (quanos_hw/executor; default: serial, in this process).
    """
    config = RunConfig() if config is None else config
    if isinstance(model, str):
        config = dataclasses.replace(config, model=model)
    elif model is not None:
        if not isinstance(model, nn.Module):
            raise InputError(f"model must be a name, a source string or a torch.nn.Module, got {type(model).__name__}")
        config = dataclasses.replace(config, model=describe(model))
    data = None if train is None and test is None else user_dataset(train, test, config.dataset)
    log = log or (lambda msg: tqdm.write(msg))
    obj = model if isinstance(model, nn.Module) else None
    # the results folder stays locked until the run ends
    with using(executor) as executor, prepare(config, resume, model=obj, data=data,
                                              local_device=runs_here(executor)) as setup:
        return _run(setup, resume, progress, log, executor)


def quanos_iterations(r: QuanosRunner) -> tuple[list[dict], str]:
    """The QUANOS iterations on the warm network: scores -> bits -> QAT, ``iterations`` times; returns
    each iteration's scores and bits, and the final hybrid's phase."""
    c = r.c
    iterations, source, offset = [], "warmup", c.warmup_epochs
    for i, share in enumerate(qat_shares(c.qat_epochs, c.iterations), start=1):
        step = r.ans_phase(f"ans_{i}", source)
        r.train_phase(f"quanos_{i}", init=source, bits=step["bits"], quantize=True, epochs=share, offset=offset)
        iterations.append(step)
        source, offset = f"quanos_{i}", offset + share
    return iterations, source


def quanos_trial(ctx: TrialContext) -> str:
    """A trial: the QUANOS iterations (their ``ans_i`` and ``quanos_i`` phases); returns the hybrid's phase."""
    return quanos_iterations(ctx.runner(cls=QuanosRunner))[1]


def _baselines(c: RunConfig) -> list[TrainPhase]:
    """The float and uniform baselines (from the warm weights, same schedule) and the surrogate."""
    W, Q = c.warmup_epochs, c.qat_epochs
    out = [TrainPhase("float32", init="warmup", bits=16, quantize=False, epochs=Q, offset=W)] if c.float_baseline \
        else []
    out += [TrainPhase(f"uniform{b}", init="warmup", bits=b, quantize=True, epochs=Q, offset=W)
            for b in sorted(set(c.uniform_bits), reverse=True)]
    return out + [TrainPhase("surrogate", init=None, bits=16, quantize=False, epochs=W + Q, offset=0,
                             seed=c.surrogate_seed)]


def _train_trials(r: Runner, specs: list[TrainPhase]) -> list[Trial]:
    """One trial per training phase not finished yet."""
    return [Trial(s.phase, train_trial, ("", r.c, (s,))) for s in specs if r.done(s.phase) is None]


def _run(setup, resume: bool, progress: bool, log, executor: Executor) -> RunResult:
    from .report import ModelKind, RunOutputs, write_outputs

    c, data, layers, ws = setup.config, setup.data, setup.layers, setup.ws
    r = QuanosRunner(c, data, ws, setup.device, progress, log, model=setup.model)
    ctx = trial_context(setup, executor, progress, log)
    if resume:
        log(f"resuming {str(ws.root)!r}: finished phases are skipped")

    # the trials write the phases' state files; the passes below find them finished and check them
    run_pending(executor, ctx, _train_trials(r, [r.warmup_phase()]))
    r.warmup()
    quanos_done = all(r.done(f"{kind}_{i}") is not None for i in range(1, c.iterations + 1)
                      for kind in ("ans", "quanos"))
    baselines = _baselines(c)
    run_pending(executor, ctx, ([] if quanos_done else [Trial("quanos", quanos_trial)]) + _train_trials(r, baselines))
    iterations, source = quanos_iterations(r)
    final_bits = iterations[-1]["bits"]

    models: dict[str, str] = {"quanos": source}
    kinds = {"quanos": ModelKind("hybrid"), "float32": ModelKind("float")}
    for spec in baselines:
        r.train(spec)
        if spec.phase != "surrogate":
            models[spec.phase] = spec.phase
        if spec.phase.startswith("uniform"):
            kinds[spec.phase] = ModelKind("uniform", int(spec.bits))
    iso = None
    if c.iso_size:
        hybrid = [final_bits[lyr.name]["weight_bit_width"] for lyr in layers]
        iso = iso_size_bits([lyr.weights for lyr in layers], hybrid)
        if iso not in c.uniform_bits:
            spec = TrainPhase(f"uniform{iso}", init="warmup", bits=iso, quantize=True, epochs=c.qat_epochs,
                              offset=c.warmup_epochs)
            run_pending(executor, ctx, _train_trials(r, [spec]))
            r.train(spec)
            models[spec.phase] = spec.phase
            kinds[spec.phase] = ModelKind("uniform", iso)
    if any(r.done(f"eval_{name}") is None for name in models):
        run_pending(executor, ctx, [Trial("evaluate", evaluate_trial, ("", c, models))])
    robustness = r.evaluate_all(models)

    phases = {name: r.done(phase) for name, phase in models.items()}
    report, files = write_outputs(ws.root, RunOutputs(
        config=c, config_hash=ws.config_hash, data=data, layers=layers, iterations=iterations, kinds=kinds,
        phases=phases, robustness=robustness, iso_bits=iso, surrogate=ws.done("surrogate"), timing=r.seconds()))
    return RunResult(report=report, out_dir=ws.root, files=files)
