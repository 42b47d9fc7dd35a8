"""The shared home of the experiments (``quanos run``, ``quanos compare``): a Runner executes
named phases of one seed in a Workspace (training phases that resume mid-way, sensitivity scores,
robustness evaluation), and :func:`prepare` checks a configuration and creates (or, on resume,
verifies) its results folder, locked for the whole command (``with prepare(...) as setup:``).

Every phase is skipped once finished (its state file exists); see workspace.py for the layout.
A finished phase's state is checked before it is trusted: its recorded hash, its keys, and what
can be re-derived (a training phase's quantization flag and bits).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import bitconfig
from ..checkpoint import load_checkpoint, load_model_state
from ..data import Dataset, load_dataset
from ..errors import InputError, WorkspaceError
from ..executor import Executor, Trial
from ..hardware import extract_layers
from ..layers import quant_layers
from ..models import create_model
from ..models.converted import check_outputs
from ..quantization import set_quantization
from ..robustness import AttackConfig, craft_transfer_set, evaluate_robustness
from ..sensitivity import compute_sensitivity
from ..training import TrainConfig, evaluate, train
from .config import ExperimentConfig
from .workspace import Workspace

#: the keys of a training phase's state and of an evaluation's
TRAIN_KEYS = ("quantized", "bits", "history", "test_accuracy")
EVAL_KEYS = ("clean", "attacks", "reference", "large_eps", "checks", "all_checks_passed", "worst_case")


def pick_device(name: str, local: bool = True) -> torch.device:
    """The device of config key ``device``; ``local=False``: the trials run elsewhere (Ray workers with
    GPUs), so 'cuda' and 'auto' mean cuda there, whatever this machine has."""
    if not local:
        return torch.device("cpu" if name == "cpu" else "cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


@dataclass(frozen=True)
class TrainPhase:
    """One training phase of :meth:`Runner.train_phase`: ``init`` the phase whose weights it starts
    from (None: a fresh network from ``seed``), ``bits`` a width or a bit configuration."""

    phase: str
    init: str | None
    bits: object
    quantize: bool
    epochs: int
    offset: int
    seed: int | None = None

    def options(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "phase"}


class Runner:
    """Runs named phases of one seed in a Workspace; ``prefix`` namespaces the phases (compare
    runs several seeds in one folder). Experiments subclass it for their own phases. ``model``: an
    nn.Module given to the Python API, built (copied and converted) instead of config key ``model``."""

    def __init__(self, config: ExperimentConfig, data: Dataset, ws: Workspace, device: torch.device, progress: bool,
                 log, prefix: str = "", model: nn.Module | None = None) -> None:
        self.c, self.data, self.ws, self.device, self.progress, self.log = config, data, ws, device, progress, log
        self.prefix = prefix
        self.source = model if model is not None else config.model
        self.timing: dict[str, float] = {}
        self._layer_names: list[str] | None = None

    def done(self, phase: str, required: tuple[str, ...] = ()) -> dict | None:
        return self.ws.done(self.prefix + phase, required)

    def finish(self, phase: str, result: dict) -> dict:
        """Record ``phase``'s result (with the seconds it took, when measured in this process)."""
        seconds = self.timing.get(self.prefix + phase)
        if seconds is not None:
            result = {**result, "seconds": round(seconds, 2)}
        return self.ws.finish(self.prefix + phase, result)

    def seconds(self) -> dict[str, float]:
        """Seconds each finished phase took, read back from the phase states, so that a resumed
        run reports the phases it skipped too."""
        states = {path.stem: self.ws.done(path.stem) for path in self.ws.state_files()}
        return {name: state["seconds"] for name, state in states.items() if "seconds" in state}

    def checkpoint(self, phase: str) -> Path:
        return self.ws.checkpoint(self.prefix + phase)

    # -- models -------------------------------------------------------------------------------
    def new_model(self, seed: int):
        """A fresh float model: random initialisation from ``seed``, or config key ``weights``."""
        torch.manual_seed(seed)
        model = create_model(self.source, num_classes=self.data.info.num_classes,
                             in_channels=self.data.info.input_shape[0], mean=self.data.mean, std=self.data.std,
                             weight_scaling=self.c.weight_scaling, quantize=False, weights=self.c.weights)
        return model.to(self.device)

    def model_meta(self, quantized: bool) -> dict:
        """The model description stored in checkpoints (``quanos export`` rebuilds the model from it)."""
        info = self.data.info
        return {"model": self.c.model, "num_classes": info.num_classes, "in_channels": info.input_shape[0],
                "input_shape": list(info.input_shape), "weight_scaling": self.c.weight_scaling,
                "quantized": quantized}

    def load(self, phase: str, seed: int | None = None):
        """A fresh model holding ``phase``'s final weights, with that phase's quantization state."""
        model = self.new_model(self.c.seed if seed is None else seed)
        payload = load_checkpoint(self.checkpoint(phase), self.ws.config_hash, digest_required=True)
        load_model_state(model, payload["model"])
        set_quantization(model, self.done(phase, TRAIN_KEYS)["quantized"])
        return model

    def layer_names(self) -> list[str]:
        """The model's quantizable layers (built once, without touching the global random state)."""
        if self._layer_names is None:
            with torch.random.fork_rng(devices=[]):
                model = create_model(self.source, num_classes=self.data.info.num_classes,
                                     in_channels=self.data.info.input_shape[0])
            self._layer_names = list(quant_layers(model))
        return list(self._layer_names)

    def check_trained(self, phase: str, state: dict, bits, quantize: bool) -> dict:
        """A finished training phase's state, if it is what this phase produces: the same
        quantization flag and the bits this phase applies (re-derived, not trusted)."""
        path = self.ws.state_path(self.prefix + phase)
        try:
            expected = bitconfig.bit_config_for(bits, self.layer_names())
        except InputError as exc:
            raise WorkspaceError(f"state file {str(path)!r}: its bits cannot be re-derived ({exc})") from None
        if state["quantized"] is not quantize or state["bits"] != expected:
            what = "quantization flag is" if state["quantized"] is not quantize else "bits are"
            raise WorkspaceError(f"state file {str(path)!r} is inconsistent: its {what} not what this phase "
                                 "trains; delete it (and its .sha256) to recompute that phase with --resume")
        return state

    def train_config(self, epochs: int, offset: int, total: int, seed: int) -> TrainConfig:
        c = self.c
        return TrainConfig(epochs=epochs, batch_size=c.batch_size, lr=c.lr, momentum=c.momentum,
                           weight_decay=c.weight_decay, optimizer=c.optimizer, augment=c.augment, seed=seed,
                           schedule_offset=offset, schedule_epochs=total, calibration_batches=c.calibration_batches)

    def train_phase(self, phase: str, *, init: str | None, bits, quantize: bool, epochs: int, offset: int,
                    seed: int | None = None, total: int | None = None) -> dict:
        state = self.done(phase, TRAIN_KEYS)
        if state is not None:
            return self.check_trained(phase, state, bits, quantize)
        seed = self.c.seed if seed is None else seed
        self.log(f"[{self.prefix}{phase}] {'QAT' if quantize else 'float training'} for {epochs} epoch(s)")
        start = time.perf_counter()
        model = self.load(init) if init is not None else self.new_model(seed)
        bitconfig.apply_bit_config(model, bits)
        set_quantization(model, quantize)
        total = total if total is not None else self.c.warmup_epochs + self.c.qat_epochs
        if self.checkpoint(phase).is_file():  # an unfinished phase continues only from a verified checkpoint
            load_checkpoint(self.checkpoint(phase), self.ws.config_hash, digest_required=True)
        history = train(model, self.data.train, self.train_config(epochs, offset, total, seed),
                        checkpoint_path=self.checkpoint(phase), config_hash=self.ws.config_hash, resume=True,
                        progress=self.progress, desc=phase, meta=self.model_meta(quantize))
        self.timing[self.prefix + phase] = time.perf_counter() - start
        return self.finish(phase, {
            "quantized": quantize, "bits": bitconfig.get_bit_config(model), "history": history,
            "test_accuracy": evaluate(model, self.data.test, self.c.eval_batch_size)})

    def train(self, spec: TrainPhase) -> dict:
        return self.train_phase(spec.phase, **spec.options())

    def warmup_phase(self) -> TrainPhase:
        bits = self.c.warmup_bits
        return TrainPhase("warmup", init=None, bits=16 if bits is None else bits, quantize=bits is not None,
                          epochs=self.c.warmup_epochs, offset=0)

    def warmup(self) -> dict:
        """The ``warmup`` phase: float training, or with ``warmup_bits`` quantization-aware training of
        the fresh network at that uniform width (activations calibrated first, as for every quantized
        training). Sensitivity is then measured on this network as it was trained (quantized or float),
        and the hybrid and the baselines start from its weights and, when quantized, its learned clip ranges."""
        return self.train(self.warmup_phase())

    # -- sensitivity ---------------------------------------------------------------------------
    def scores(self, source: str, metric: str) -> dict[str, float]:
        """Per-layer scores of sensitivity ``metric`` on ``source``'s model, on the training data,
        with the options the configuration gives it."""
        return compute_sensitivity(metric, self.load(source), self.data.train, progress=self.progress,
                                   **self.c.sensitivity_options(metric))

    def warm_scores(self, metric: str) -> dict[str, float]:
        """The scores of ``metric`` on the warm-up network, measured once and kept as the phase
        ``scores_<metric>`` (a finished one is read back)."""
        state = self.done(f"scores_{metric}")
        if state is None:
            self.log(f"[{self.prefix}scores_{metric}] {metric} sensitivity on the warm network")
            start = time.perf_counter()
            values = self.scores("warmup", metric)
            state = self.finish(f"scores_{metric}", {"scores": values, "seconds": time.perf_counter() - start})
        return state["scores"]

    # -- evaluation ------------------------------------------------------------------------------
    def attack_config(self) -> AttackConfig:
        """The robustness evaluation of the (resolved) configuration."""
        c = self.c
        return AttackConfig(attacks=c.attacks, large_eps=c.large_eps, large_eps_steps=c.large_eps_steps,
                            large_eps_samples=c.large_eps_samples, tolerance=c.check_tolerance, seed=c.seed,
                            batch_size=c.eval_batch_size, robustness=c.robustness,
                            robustness_samples=c.robustness_samples)

    def evaluate_all(self, models: dict[str, str]) -> dict[str, dict]:
        """Robustness of each model (name -> phase), every attack of the configuration."""
        results, transfer, config, test = {}, None, self.attack_config(), None
        for name, phase in models.items():
            key = f"eval_{name}"
            state = self.done(key, EVAL_KEYS)
            if state is None:
                if transfer is None:
                    test = self.data.test.to(self.device)
                    self.log(f"[{self.prefix}surrogate] crafting transfer attacks for the black-box evaluation")
                    transfer = craft_transfer_set(self.load("surrogate", self.c.surrogate_seed), test, config,
                                                  self.progress)
                self.log(f"[{self.prefix}{key}] white-box and black-box attacks on {name}")
                start = time.perf_counter()
                result = evaluate_robustness(self.load(phase), test, config, self.data.info.num_classes, transfer,
                                             self.progress)
                self.timing[self.prefix + key] = time.perf_counter() - start
                state = self.finish(key, result.to_dict())
            results[name] = {k: v for k, v in state.items() if k != "seconds"}  # the timing goes to timing_s
        return results


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one experiment shares, sent once to each executor: the resolved configuration,
    the data, the device, the results folder (absolute: a Ray worker may run elsewhere; the launching
    process holds its lock) and the log. A trial builds its own Runner from it (:meth:`runner`)."""

    config: ExperimentConfig
    data: Dataset
    device: torch.device
    root: str
    progress: bool
    log: Callable[[str], None]
    model: nn.Module | None = None

    def runner(self, prefix: str = "", config: ExperimentConfig | None = None, cls: type[Runner] = Runner) -> Runner:
        ws = Workspace(self.root, self.config)
        return cls(config or self.config, self.data, ws, self.device, self.progress, self.log, prefix=prefix,
                   model=self.model)


def train_trial(ctx: TrialContext, prefix: str, config: ExperimentConfig, phases: tuple[TrainPhase, ...]) -> list:
    """A trial: the training phases ``phases`` one after the other (each writes its own state file)."""
    r = ctx.runner(prefix, config)
    return [r.train(spec) for spec in phases]


def evaluate_trial(ctx: TrialContext, prefix: str, config: ExperimentConfig, models: dict[str, str]) -> dict:
    """A trial: the robustness evaluation of ``models`` (name -> phase), one transfer set for all."""
    return ctx.runner(prefix, config).evaluate_all(models)


def run_pending(executor: Executor, ctx: TrialContext, trials: Sequence[Trial]) -> list:
    """Run ``trials`` on ``executor``; an empty batch (everything finished: a resumed run) runs nothing."""
    return executor.run(list(trials), ctx) if trials else []


def runs_here(executor: Executor) -> bool:
    """Whether the trials' device is this machine's: in this process, or on Ray without GPUs."""
    return executor.in_process or not executor.config.resources.gpu


def trial_context(setup: Setup, executor: Executor, progress: bool, log) -> TrialContext:
    """The trials' context of a prepared experiment; progress bars only where trials run in this process."""
    return TrialContext(setup.config, setup.data, setup.device, str(setup.ws.root.resolve()),
                        progress and executor.in_process, log, setup.model)


@dataclass
class Setup:
    """A prepared experiment; a context manager that releases the results folder's lock."""

    config: ExperimentConfig
    data: Dataset
    layers: list
    device: torch.device
    ws: Workspace
    model: nn.Module | None = None  # an nn.Module given to the Python API instead of config key 'model'

    def __enter__(self) -> Setup:
        return self

    def __exit__(self, *exc) -> None:
        self.ws.close()


def check_hardware(c: ExperimentConfig, layers) -> None:
    """With config key ``hardware``: every MAC architecture of the experiment estimates on the
    description (an architecture without a technology node or area node it needs fails here, not
    after training)."""
    from energy_models.accelerator_estimate import estimate_accelerator

    from ..accelerator import with_mac

    accelerator = c.accelerator()
    if accelerator is None:
        return
    for arch in c.architectures():
        estimate_accelerator(layers, 8, 8, accelerator=with_mac(accelerator, arch), input_bit_width=c.input_bit_width)


def prepare(config: ExperimentConfig, resume: bool, *, model: nn.Module | None = None,
            data: Dataset | None = None, local_device: bool = True) -> Setup:
    """Resolve ``config`` and check everything that can be checked before a file is written
    (hardware names, tables and description, the dataset, the device, the model: built once, with its
    weights, traced, its outputs checked against the classes); then lock and create (or, with
    ``resume``, verify) the results folder. Use it as ``with prepare(...) as setup:`` so the lock is
    held until the experiment ends. ``model`` and ``data``: objects of the Python API used instead of
    config keys ``model`` and ``dataset``; ``local_device=False``: the trials run on GPUs elsewhere
    (:func:`pick_device`)."""
    from energy_models import get_architecture, load_technology

    c = config.resolve()
    tech = load_technology(c.technology)
    for arch in c.architectures():
        get_architecture(arch, tech)
    if data is None:
        synthetic = dict(n_train=c.synthetic_train, n_test=c.synthetic_test) if c.dataset == "synthetic" else {}
        data = load_dataset(c.dataset, c.data_dir, download=c.download, split_seed=c.split_seed,
                            image_size=c.image_size, **synthetic)
    device = pick_device(c.device, local_device)
    info = data.info
    probe = create_model(c.model if model is None else model, num_classes=info.num_classes,
                         in_channels=info.input_shape[0], weight_scaling=c.weight_scaling, weights=c.weights)
    layers = extract_layers(probe, info.input_shape)
    check_outputs(probe, info.input_shape, info.num_classes, f"model {c.model!r}")
    check_hardware(c, layers)
    ws = Workspace(c.out_dir, c)
    ws.prepare(resume)
    return Setup(c, data, layers, device, ws, model)
