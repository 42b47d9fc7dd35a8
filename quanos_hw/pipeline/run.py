"""The QUANOS experiment end to end (Panda, arXiv 2004.11233, Algorithm 1) and its baselines.

Phases (each skipped on ``resume`` once finished; training phases resume mid-way):

1. ``warmup``: a randomly initialised network trained ``warmup_epochs`` epochs: float by default,
   or quantized at ``warmup_bits`` (Algorithm 1's "say, 16-bit" network; see :meth:`Runner.warmup`).
2. ``ans_i``: ANS per layer on the current network (FGSM at ``ans_eps``) -> bits by the QUANOS rule.
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

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from energy_models.bits import MAX_BITS, MIN_BITS

from .. import bitconfig
from ..allocation import bits_from_ans
from ..checkpoint import load_checkpoint, load_model_state
from ..data import Dataset, load_dataset
from ..errors import InputError
from ..hardware import extract_layers
from ..models import create_model
from ..quantization import set_quantization
from ..robustness import AttackConfig, craft_transfer_set, evaluate_robustness
from ..sensitivity import adversarial_noise_sensitivity
from ..training import TrainConfig, evaluate, train
from .config import RunConfig
from .workspace import Workspace


@dataclass
class RunResult:
    report: dict
    out_dir: Path
    files: list[str] = field(default_factory=list)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


def qat_shares(total: int, parts: int) -> list[int]:
    """Split the QAT epoch budget over the iterations (earlier iterations get the remainder)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def iso_size_bits(weights: list[int], hybrid_bits: list[int]) -> int:
    """Uniform width whose weight storage is closest to the hybrid's (ties: the larger width)."""
    target = sum(w * b for w, b in zip(weights, hybrid_bits))
    total = sum(weights)
    return min(range(MAX_BITS, MIN_BITS - 1, -1), key=lambda b: abs(total * b - target))


def attack_config(c: RunConfig) -> AttackConfig:
    """The robustness evaluation of a resolved run (or compare) configuration."""
    return AttackConfig(attacks=c.attacks, large_eps=c.large_eps, large_eps_steps=c.large_eps_steps,
                        large_eps_samples=c.large_eps_samples, tolerance=c.check_tolerance, seed=c.seed,
                        batch_size=c.eval_batch_size)


class Runner:
    """Runs named phases of one seed in a Workspace; ``prefix`` namespaces the phases (compare
    runs several seeds in one folder)."""

    def __init__(self, config: RunConfig, data: Dataset, ws: Workspace, device: torch.device, progress: bool,
                 log, prefix: str = "") -> None:
        self.c, self.data, self.ws, self.device, self.progress, self.log = config, data, ws, device, progress, log
        self.prefix = prefix
        self.timing: dict[str, float] = {}

    def done(self, phase: str) -> dict | None:
        return self.ws.done(self.prefix + phase)

    def finish(self, phase: str, result: dict) -> dict:
        return self.ws.finish(self.prefix + phase, result)

    def checkpoint(self, phase: str) -> Path:
        return self.ws.checkpoint(self.prefix + phase)

    # -- models -------------------------------------------------------------------------------
    def new_model(self, seed: int):
        torch.manual_seed(seed)
        model = create_model(self.c.model, num_classes=self.data.info.num_classes,
                             in_channels=self.data.info.input_shape[0], mean=self.data.mean, std=self.data.std,
                             weight_scaling=self.c.weight_scaling, quantize=False)
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
        load_model_state(model, load_checkpoint(self.checkpoint(phase), self.ws.config_hash)["model"])
        set_quantization(model, self.done(phase)["quantized"])
        return model

    def train_config(self, epochs: int, offset: int, total: int, seed: int) -> TrainConfig:
        c = self.c
        return TrainConfig(epochs=epochs, batch_size=c.batch_size, lr=c.lr, momentum=c.momentum,
                           weight_decay=c.weight_decay, optimizer=c.optimizer, augment=c.augment, seed=seed,
                           schedule_offset=offset, schedule_epochs=total, calibration_batches=c.calibration_batches)

    def train_phase(self, phase: str, *, init: str | None, bits, quantize: bool, epochs: int, offset: int,
                    seed: int | None = None, total: int | None = None) -> dict:
        state = self.done(phase)
        if state is not None:
            return state
        seed = self.c.seed if seed is None else seed
        self.log(f"[{self.prefix}{phase}] {'QAT' if quantize else 'float training'} for {epochs} epoch(s)")
        start = time.perf_counter()
        model = self.load(init) if init is not None else self.new_model(seed)
        bitconfig.apply_bit_config(model, bits)
        set_quantization(model, quantize)
        total = total if total is not None else self.c.warmup_epochs + self.c.qat_epochs
        history = train(model, self.data.train, self.train_config(epochs, offset, total, seed),
                        checkpoint_path=self.checkpoint(phase), config_hash=self.ws.config_hash, resume=True,
                        progress=self.progress, desc=phase, meta=self.model_meta(quantize))
        self.timing[self.prefix + phase] = time.perf_counter() - start
        return self.finish(phase, {
            "quantized": quantize, "bits": bitconfig.get_bit_config(model), "history": history,
            "test_accuracy": evaluate(model, self.data.test, self.c.eval_batch_size)})

    # -- QUANOS ---------------------------------------------------------------------------------
    def warmup(self) -> dict:
        """The ``warmup`` phase: float training, or with ``warmup_bits`` quantization-aware training of
        the fresh network at that uniform width (activations calibrated first, as for every quantized
        training). ANS is then measured on this network as it was trained (quantized or float), and
        the hybrid and the baselines start from its weights and, when quantized, its learned clip ranges."""
        bits = self.c.warmup_bits
        return self.train_phase("warmup", init=None, bits=16 if bits is None else bits, quantize=bits is not None,
                                epochs=self.c.warmup_epochs, offset=0)

    def ans_phase(self, phase: str, source: str) -> dict:
        state = self.done(phase)
        if state is not None:
            return state
        self.log(f"[{self.prefix}{phase}] adversarial noise sensitivity on {source} (FGSM eps {self.c.ans_eps:.4g})")
        start = time.perf_counter()
        model = self.load(source)
        ans = adversarial_noise_sensitivity(model, self.data.train, self.c.ans_eps, max_batches=self.c.ans_batches,
                                            activation=self.c.ans_activation, batch_size=self.c.ans_batch_size,
                                            progress=self.progress)
        bits = bits_from_ans(ans, self.c.k_init, self.c.k_min, self.c.first_last)
        self.timing[self.prefix + phase] = time.perf_counter() - start
        samples = min(len(self.data.train), self.c.ans_batches * self.c.ans_batch_size)
        return self.finish(phase, {"source": source, "ans": ans, "bits": bits, "samples": samples})

    # -- evaluation ------------------------------------------------------------------------------
    def attack_config(self) -> AttackConfig:
        return attack_config(self.c)

    def evaluate_all(self, models: dict[str, str]) -> dict[str, dict]:
        """Robustness of each model (name -> phase), every attack of the configuration."""
        results, transfer, config = {}, None, self.attack_config()
        test = self.data.test.to(self.device)
        for name, phase in models.items():
            key = f"eval_{name}"
            state = self.done(key)
            if state is None:
                if transfer is None:
                    self.log(f"[{self.prefix}surrogate] crafting transfer attacks for the black-box evaluation")
                    transfer = craft_transfer_set(self.load("surrogate", self.c.surrogate_seed), test, config,
                                                  self.progress)
                self.log(f"[{self.prefix}{key}] white-box and black-box attacks on {name}")
                start = time.perf_counter()
                result = evaluate_robustness(self.load(phase), test, config, self.data.info.num_classes, transfer,
                                             self.progress)
                self.timing[self.prefix + key] = time.perf_counter() - start
                state = self.finish(key, result.to_dict())
            results[name] = state
        return results


@dataclass
class Setup:
    config: RunConfig
    data: Dataset
    layers: list
    device: torch.device
    ws: Workspace


def prepare(config: RunConfig, resume: bool) -> Setup:
    """Resolve ``config`` and check everything that can be checked before a file is written
    (hardware names and tables, the dataset, the device, the model's layers); then create (or,
    with ``resume``, verify) the results folder."""
    from energy_models import get_architecture, load_technology

    c = config.resolve()
    tech = load_technology(c.technology)
    for arch in c.mac_architectures:
        get_architecture(arch, tech)
    synthetic = dict(n_train=c.synthetic_train, n_test=c.synthetic_test) if c.dataset == "synthetic" else {}
    data = load_dataset(c.dataset, c.data_dir, download=c.download, split_seed=c.split_seed, **synthetic)
    device = pick_device(c.device)
    probe = create_model(c.model, num_classes=data.info.num_classes, in_channels=data.info.input_shape[0])
    layers = extract_layers(probe, data.info.input_shape)
    ws = Workspace(c.out_dir, c)
    ws.prepare(resume)
    return Setup(c, data, layers, device, ws)


def run(config: RunConfig, *, resume: bool = False, progress: bool = True, log=None) -> RunResult:
    """Run the QUANOS experiment described by ``config``; return the report and the files written."""
    from .report import ModelKind, RunOutputs, write_outputs

    log = log or (lambda msg: tqdm.write(msg))
    setup = prepare(config, resume)
    c, data, layers, ws = setup.config, setup.data, setup.layers, setup.ws
    r = Runner(c, data, ws, setup.device, progress, log)
    if resume:
        log(f"resuming {str(ws.root)!r}: finished phases are skipped")

    W, Q = c.warmup_epochs, c.qat_epochs
    r.warmup()
    iterations, source, offset = [], "warmup", W
    for i, share in enumerate(qat_shares(Q, c.iterations), start=1):
        step = r.ans_phase(f"ans_{i}", source)
        r.train_phase(f"quanos_{i}", init=source, bits=step["bits"], quantize=True, epochs=share, offset=offset)
        iterations.append(step)
        source, offset = f"quanos_{i}", offset + share
    final_bits = iterations[-1]["bits"]

    models: dict[str, str] = {"quanos": source}
    kinds = {"quanos": ModelKind("hybrid"), "float32": ModelKind("float")}
    if c.float_baseline:
        r.train_phase("float32", init="warmup", bits=16, quantize=False, epochs=Q, offset=W)
        models["float32"] = "float32"
    for b in sorted(set(c.uniform_bits), reverse=True):
        r.train_phase(f"uniform{b}", init="warmup", bits=b, quantize=True, epochs=Q, offset=W)
        models[f"uniform{b}"] = f"uniform{b}"
        kinds[f"uniform{b}"] = ModelKind("uniform", b)
    iso = None
    if c.iso_size:
        hybrid = [final_bits[lyr.name]["weight_bit_width"] for lyr in layers]
        iso = iso_size_bits([lyr.weights for lyr in layers], hybrid)
        if iso not in c.uniform_bits:
            r.train_phase(f"uniform{iso}", init="warmup", bits=iso, quantize=True, epochs=Q, offset=W)
            models[f"uniform{iso}"] = f"uniform{iso}"
            kinds[f"uniform{iso}"] = ModelKind("uniform", iso)
    r.train_phase("surrogate", init=None, bits=16, quantize=False, epochs=W + Q, offset=0, seed=c.surrogate_seed)
    robustness = r.evaluate_all(models)

    phases = {name: ws.done(phase) for name, phase in models.items()}
    report, files = write_outputs(ws.root, RunOutputs(
        config=c, config_hash=ws.config_hash, data=data, layers=layers, iterations=iterations, kinds=kinds,
        phases=phases, robustness=robustness, iso_bits=iso, surrogate=ws.done("surrogate"), timing=r.timing))
    return RunResult(report=report, out_dir=ws.root, files=files)
