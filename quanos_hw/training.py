"""Seeded training with checkpoints, exact resume, and evaluation.

Every epoch's data order and augmentation come from a generator seeded with (seed, epoch), the
learning rate is a pure function of the global step, and the checkpoint stores the model, the
optimizer and the generator state. Resuming from a checkpoint therefore continues the very same
trajectory (on the CPU the result equals an uninterrupted run).

The data is a :class:`~quanos_hw.data.TensorData` (the fast, exactly resumable path above) or any
iterable of ``(images, labels)`` batches such as a ``torch.utils.data.DataLoader``, whose own
batching, shuffling and augmentation are then used every epoch (see :func:`train` for what resume
guarantees then). Quantized models are calibrated (see :mod:`quanos_hw.quantization`) before their
first training step. A NaN or infinite loss stops training with :class:`TrainingDivergedError` and
leaves the last good checkpoint in place; SIGINT finishes the current step, writes a resumable
checkpoint and raises KeyboardInterrupt.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, load_model_state, save_checkpoint
from .data import Batches, TensorData, iter_batches
from .errors import ConfigError, TrainingDivergedError
from .modes import eval_mode
from .quantization import calibrate_activations, is_calibrated, quantization_enabled
from .splits import AUGMENTATIONS

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


@dataclass
class _Start:
    """Where training starts: from scratch, or from a checkpoint's epoch and step."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    generator_state: torch.Tensor | None = None
    optimizer_state: dict | None = None
    stats: tuple = (0.0, 0, 0)  # loss sum, correct, seen of the interrupted epoch


def _load_start(model: nn.Module, checkpoint_path, config_hash: str, resume: bool) -> _Start:
    if not (resume and checkpoint_path is not None and Path(checkpoint_path).is_file()):
        return _Start()
    ckpt = load_checkpoint(checkpoint_path, config_hash)
    # Brevitas rebuilds its quantizer modules on load: load before building the optimizer
    load_model_state(model, ckpt["model"])
    return _Start(ckpt["epoch"], ckpt["step_in_epoch"], ckpt["history"], ckpt["generator_state"], ckpt["optimizer"],
                  tuple(ckpt["meta"].get("epoch_stats", (0.0, 0, 0))))


def _steps_per_epoch(data: Batches, config: TrainConfig) -> int | None:
    """Batches per epoch: from the batch size for a TensorData, ``len(loader)`` otherwise (None when
    the iterable has no length)."""
    if isinstance(data, TensorData):
        if len(data) == 0:
            raise ConfigError("cannot train on an empty dataset")
        return math.ceil(len(data) / config.batch_size)
    try:
        steps = len(data)
    except TypeError:
        if config.schedule != "constant":
            raise ConfigError(f"the {config.schedule!r} schedule needs the number of batches per epoch: pass data "
                              "with a len() (a DataLoader has one) or use schedule='constant'") from None
        return None
    if steps == 0:
        raise ConfigError("cannot train on an empty dataset")
    return steps


def _epoch_batches(data: Batches, config: TrainConfig, epoch: int, first: int,
                   saved_gen: torch.Tensor | None) -> tuple[Iterator, torch.Generator | None]:
    """This epoch's ``(images, labels)`` batches from step ``first`` on, and the generator whose
    state a mid-epoch checkpoint stores (None for a DataLoader, which draws its own order)."""
    if not isinstance(data, TensorData):
        batches = iter_batches(data)
        for _ in range(first):
            next(batches, None)
        return batches, None
    generator = epoch_generator(config.seed, epoch)
    order = torch.randperm(len(data), generator=generator)
    if first and saved_gen is not None:
        generator.set_state(saved_gen)
    size = config.batch_size
    steps = math.ceil(len(data) / size)
    batches = (data.take(order[s * size:(s + 1) * size], config.augment, generator) for s in range(first, steps))
    return batches, generator


def _calibrate_if_needed(model: nn.Module, data: Batches, config: TrainConfig, device: torch.device) -> None:
    if quantization_enabled(model) and not is_calibrated(model):
        calibrate_activations(model, (x.to(device) for x, _ in iter_batches(data, config.batch_size,
                                                                              config.calibration_batches)))


def train(
    model: nn.Module,
    data: Batches,
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

    ``data`` is a TensorData (batches of ``config.batch_size`` in a seeded order with
    ``config.augment``; resume, even mid-epoch, continues the very same trajectory) or an iterable
    of ``(images, labels)`` batches such as a DataLoader, iterated once per epoch with its own batch
    size, shuffling and augmentation (``config.batch_size`` then sets only the calibration batches
    and ``config.augment`` is not applied). With a DataLoader, a resumed run restores the model, the
    optimizer and the history exactly and the learning rate follows the same schedule, but the data
    order after resume is the loader's, not the one an uninterrupted run would have seen (a
    mid-epoch resume skips that epoch's first batches of the loader's new pass); exact resume
    needs a TensorData. The cosine schedule needs ``len(data)``.
    """
    steps_per_epoch = _steps_per_epoch(data, config)
    start = _load_start(model, checkpoint_path, config_hash, resume)
    history = start.history
    device = next(model.parameters()).device
    _calibrate_if_needed(model, data, config, device)
    optimizer = make_optimizer(model, config)
    if start.optimizer_state is not None:
        optimizer.load_state_dict(start.optimizer_state)

    def checkpoint(epoch: int, step: int, generator: torch.Generator | None, stats=(0.0, 0, 0)) -> None:
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model=model, config_hash=config_hash, epoch=epoch,
                            step_in_epoch=step, optimizer=optimizer, generator=generator, history=history,
                            meta={**(meta or {}), "epoch_stats": list(stats)})

    with _deferred_sigint() as sig:
        for epoch in range(start.epoch, config.epochs):
            model.train()
            first = start.step if epoch == start.epoch else 0
            batches, generator = _epoch_batches(data, config, epoch, first, start.generator_state)
            total_loss, correct, seen = start.stats if first else (0.0, 0, 0)
            lr = config.lr
            bar = tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{config.epochs}", initial=first,
                       total=steps_per_epoch, disable=not progress, leave=False, dynamic_ncols=True)
            for step, (x, y) in enumerate(bar, start=first):
                x, y = x.to(device), y.to(device)
                lr = config.lr_at(epoch * (steps_per_epoch or 0) + step, steps_per_epoch or 1)
                loss, hits = _step(model, optimizer, x, y, lr, f"{desc}: ", f"epoch {epoch + 1} step {step + 1}",
                                   checkpoint_path)
                total_loss += loss * len(y)
                correct += hits
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


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, lr: float,
          desc: str, where: str, checkpoint_path) -> tuple[float, int]:
    """One SGD step at learning rate ``lr``; returns the batch's mean loss and correct count."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    if not torch.isfinite(loss):
        kept = f"; the last good checkpoint {str(checkpoint_path)!r} is kept" if checkpoint_path else ""
        raise TrainingDivergedError(f"{desc}loss became {loss.item()} at {where}{kept}; lower the learning rate")
    loss.backward()
    optimizer.step()
    return loss.item(), int((logits.argmax(1) == y).sum())


@torch.no_grad()
def _predicted_batches(model: nn.Module, data: Batches, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(predicted labels, true labels)`` per batch of ``data``, on the CPU (eval mode; the model's
    mode is restored)."""
    device = next(model.parameters()).device
    with eval_mode(model):
        for x, y in iter_batches(data, batch_size):
            yield model(x.to(device)).argmax(1).cpu(), y.cpu()


def predict(model: nn.Module, data: Batches, batch_size: int = 256) -> torch.Tensor:
    """Predicted labels for every sample of ``data`` (a TensorData or a DataLoader, in its order)."""
    preds = [p for p, _ in _predicted_batches(model, data, batch_size)]
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def evaluate(model: nn.Module, data: Batches, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``data`` (a TensorData or a DataLoader, one pass) in [0, 1]."""
    if quantization_enabled(model) and not is_calibrated(model):
        raise ConfigError("the quantized model is not calibrated: train it or call calibrate_activations first")
    pairs = list(_predicted_batches(model, data, batch_size))
    if not pairs:
        raise ConfigError("cannot evaluate on an empty dataset")
    preds, labels = torch.cat([p for p, _ in pairs]), torch.cat([y for _, y in pairs])
    return float((preds == labels).float().mean())
