"""Seeded training with checkpoints, exact resume, and evaluation.

Every epoch's data order and augmentation come from a generator seeded with (seed, epoch), the
learning rate is a pure function of the global step, and the checkpoint stores the model, the
optimizer and the generator state. Resuming from a checkpoint therefore continues the very same
trajectory (on the CPU the result equals an uninterrupted run).

Quantized models are calibrated (see :mod:`quanos_hw.quantization`) before their first
training step. A NaN or infinite loss stops training with :class:`TrainingDivergedError` and
leaves the last good checkpoint in place; SIGINT finishes the current step, writes a resumable
checkpoint and raises KeyboardInterrupt.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, load_model_state, save_checkpoint
from .data import AUGMENTATIONS, TensorData
from .errors import ConfigError, TrainingDivergedError
from .modes import eval_mode
from .quantization import calibrate_activations, is_calibrated, quantization_enabled

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainConfig:
    """One training phase.

    ``epochs`` epochs are run; the learning rate follows ``schedule`` over ``schedule_epochs``
    (default: ``epochs``) starting ``schedule_offset`` epochs in, so that consecutive phases
    (float warm-up, then QAT) can share one cosine schedule.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    optimizer: str = "sgd"
    schedule: str = "cosine"
    augment: str = "none"
    seed: int = 0
    schedule_offset: int = 0
    schedule_epochs: int | None = None
    calibration_batches: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ConfigError(f"epochs must be an integer >= 0, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.augment not in ("none", *AUGMENTATIONS):
            raise ConfigError(f"augment must be one of {('none', *AUGMENTATIONS)}, got {self.augment!r}")

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        """Learning rate at ``step`` (counted from this phase's start)."""
        if self.schedule == "constant":
            return self.lr
        total = (self.schedule_epochs or self.epochs) * steps_per_epoch
        position = self.schedule_offset * steps_per_epoch + step
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * min(position, total) / max(total, 1)))


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


@contextmanager
def _deferred_sigint():
    """Turn SIGINT into a flag checked between steps (main thread only)."""
    state = {"interrupted": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum, frame):
        state["interrupted"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def train(
    model: nn.Module,
    data: TensorData,
    config: TrainConfig,
    *,
    checkpoint_path: str | Path | None = None,
    config_hash: str = "",
    resume: bool = False,
    progress: bool = True,
    desc: str = "train",
    on_epoch_end: Callable[[int, dict], None] | None = None,
    meta: dict | None = None,
) -> list[dict]:
    """Train ``model`` in place; return the per-epoch history ``[{epoch, loss, accuracy, lr}]``.

    With ``checkpoint_path`` a checkpoint is written after every epoch; with ``resume`` (and an
    existing checkpoint) training continues where it stopped. ``meta`` (e.g. the model's
    description, which ``quanos export`` needs) is stored in every checkpoint.
    """
    if len(data) == 0:
        raise ConfigError("cannot train on an empty dataset")
    steps_per_epoch = math.ceil(len(data) / config.batch_size)
    start_epoch, skip_steps, history, saved_gen, optimizer_state, partial = 0, 0, [], None, None, (0.0, 0, 0)
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        ckpt = load_checkpoint(checkpoint_path, config_hash)
        # Brevitas rebuilds its quantizer modules on load: load before building the optimizer
        load_model_state(model, ckpt["model"])
        start_epoch, skip_steps, history = ckpt["epoch"], ckpt["step_in_epoch"], ckpt["history"]
        saved_gen, optimizer_state = ckpt["generator_state"], ckpt["optimizer"]
        partial = tuple(ckpt["meta"].get("epoch_stats", partial))
    device = next(model.parameters()).device
    if quantization_enabled(model) and not is_calibrated(model):
        calibrate_activations(model, (x.to(device) for x, _ in data.batches(config.batch_size,
                                                                              config.calibration_batches)))
    optimizer = make_optimizer(model, config)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)

    def checkpoint(epoch: int, step: int, generator: torch.Generator | None, stats=(0.0, 0, 0)) -> None:
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model=model, config_hash=config_hash, epoch=epoch,
                            step_in_epoch=step, optimizer=optimizer, generator=generator, history=history,
                            meta={**(meta or {}), "epoch_stats": list(stats)})

    with _deferred_sigint() as sig:
        for epoch in range(start_epoch, config.epochs):
            model.train()
            first = skip_steps if epoch == start_epoch else 0
            generator = epoch_generator(config.seed, epoch)
            order = torch.randperm(len(data), generator=generator)
            if first and saved_gen is not None:
                generator.set_state(saved_gen)
            total_loss, correct, seen = partial if first else (0.0, 0, 0)
            lr = config.lr
            bar = tqdm(range(first, steps_per_epoch), desc=f"{desc} epoch {epoch + 1}/{config.epochs}",
                       disable=not progress, leave=False, dynamic_ncols=True)
            for step in bar:
                x, y = data.take(order[step * config.batch_size:(step + 1) * config.batch_size],
                                 config.augment, generator)
                x, y = x.to(device), y.to(device)
                lr = config.lr_at(epoch * steps_per_epoch + step, steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad(set_to_none=True)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                if not torch.isfinite(loss):
                    kept = f"; the last good checkpoint {str(checkpoint_path)!r} is kept" if checkpoint_path else ""
                    raise TrainingDivergedError(
                        f"{desc}: loss became {loss.item()} at epoch {epoch + 1} step {step + 1}{kept}; "
                        "lower the learning rate"
                    )
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
                if sig["interrupted"]:
                    checkpoint(epoch, step + 1, generator, (total_loss, correct, seen))
                    raise KeyboardInterrupt
            record = {"epoch": epoch + 1, "loss": total_loss / max(seen, 1), "accuracy": correct / max(seen, 1),
                      "lr": lr}
            history.append(record)
            checkpoint(epoch + 1, 0, None)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, record)
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, data: TensorData, batch_size: int = 256) -> torch.Tensor:
    """Predicted labels for every sample (eval mode; the model's mode is restored)."""
    device = next(model.parameters()).device
    with eval_mode(model):
        preds = [model(x.to(device)).argmax(1).cpu() for x, _ in data.batches(batch_size)]
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def evaluate(model: nn.Module, data: TensorData, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``data`` in [0, 1]."""
    if len(data) == 0:
        raise ConfigError("cannot evaluate on an empty dataset")
    if quantization_enabled(model) and not is_calibrated(model):
        raise ConfigError("the quantized model is not calibrated: train it or call calibrate_activations first")
    return float((predict(model, data, batch_size) == data.labels.cpu()).float().mean())
