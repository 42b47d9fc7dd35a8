"""Numeric bounds of every configuration value, in one table, and the one check that applies them.

Every float must be finite; every number (and every element of a tuple of numbers) must lie in
its :class:`Range`. :data:`CONFIG_RANGES` names a range for every numeric key of the experiment
configs (``quanos run`` and ``quanos compare``; a test checks that none is missing), so a value
such as ``lr=.inf``, ``momentum=.nan`` or a 20-digit seed is refused when the config is parsed,
before any folder is created or any work is done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from energy_models.bits import MAX_BITS, MIN_BITS

from .errors import InputError

#: the largest seed: torch and NumPy accept 0..2**32-1, and a surrogate network trains from seed + 1
SEED_MAX = 2**32 - 2
#: bounds on counts: epochs, attack steps, batches, samples (far above any real run, far below overflow)
MAX_EPOCHS = 10_000
MAX_STEPS = 10_000
MAX_BATCH = 65_536
MAX_BATCHES = 100_000
MAX_SAMPLES = 10_000_000
MAX_SYNTHETIC = 100_000  # synthetic images are generated in memory
MAX_IMAGE_SIZE = 1024  # side of a folder dataset's resized images (3 x 1024 x 1024 fits MAX_INPUT_ELEMENTS)


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``<`` on a side marked open); None is allowed when ``optional``."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def describe(self) -> str:
        low, high = _text(self.low), _text(self.high)
        if not self.low_open and not self.high_open:
            return f"between {low} and {high}"
        return f"{'>' if self.low_open else '>='} {low} and {'<' if self.high_open else '<='} {high}"

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _text(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


BITS = Range(MIN_BITS, MAX_BITS)
SEED = Range(0, SEED_MAX)
FRACTION = Range(0, 1)

#: config key -> the range of its value (of each element, for a tuple)
CONFIG_RANGES: dict[str, Range] = {
    # data, model, seeds
    "split_seed": SEED, "seed": SEED, "surrogate_seed": Range(0, SEED_MAX, optional=True), "seeds": SEED,
    "image_size": Range(1, MAX_IMAGE_SIZE, optional=True),
    "synthetic_train": Range(1, MAX_SYNTHETIC), "synthetic_test": Range(1, MAX_SYNTHETIC),
    # schedule: the pipeline always starts from the warm-up's weights, so at least one warm-up epoch
    "warmup_epochs": Range(1, MAX_EPOCHS), "qat_epochs": Range(0, MAX_EPOCHS),
    "warmup_bits": Range(MIN_BITS, MAX_BITS, optional=True), "batch_size": Range(1, MAX_BATCH),
    "lr": Range(0, 10, low_open=True), "momentum": Range(0, 1, high_open=True), "weight_decay": FRACTION,
    "calibration_batches": Range(1, MAX_BATCHES),
    # sensitivity
    "ans_eps": Range(0, 1, optional=True), "ans_batch_size": Range(1, MAX_BATCH), "ans_batches": Range(1, MAX_BATCHES),
    "metric_batches": Range(1, MAX_BATCHES),
    # robustness
    "large_eps": FRACTION, "large_eps_steps": Range(1, MAX_STEPS),
    "large_eps_samples": Range(1, MAX_SAMPLES, optional=True), "check_tolerance": FRACTION,
    "robustness_samples": Range(1, MAX_SAMPLES, optional=True),
    "eval_batch_size": Range(1, MAX_BATCH),
    # bits and QUANOS
    "input_bit_width": BITS, "k_init": BITS, "k_min": BITS, "uniform_bits": BITS, "bit_choices": BITS,
    "first_last": Range(MIN_BITS, MAX_BITS, optional=True), "iterations": Range(1, MAX_EPOCHS),
    # compare: fractions of uniform 16-bit energy
    "budgets": Range(0, 1.5, low_open=True),
    # codesign: finalists, the grid's size before the optimiser takes over, the optimiser's trials
    "finalists": Range(1, 10_000), "grid_limit": Range(1, 10_000_000), "search_trials": Range(1, 1_000_000),
}


def check_number(value: object, rng: Range, name: str, error: type[InputError] = InputError) -> None:
    """InputError ``"<name> must be ..."`` unless ``value`` is a finite number in ``rng`` (or None
    where optional). Non-numbers are left to the type checks."""
    if value is None and rng.optional or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value}")
    if not rng.contains(value):
        shown = value if len(str(value)) <= 30 else f"an integer of {len(str(abs(value)))} digits"
        raise error(f"{name} must be {rng.describe()}, got {shown}")


def check_finite(value: object, name: str, error: type[InputError] = InputError) -> None:
    """Every float in ``value`` (nested lists, tuples and dicts) is finite."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            what = "be a finite number" if item is value else "hold only finite numbers"
            raise error(f"{name} must {what}, got {item}")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def check_ranges(values: dict, ranges: dict[str, Range], what: str = "config key",
                 error: type[InputError] = InputError) -> None:
    """Apply ``ranges`` to ``values`` (key -> value; a tuple's elements each), naming the key."""
    for key, value in values.items():
        name = f"{what} {key!r}"
        check_finite(value, name, error)
        if key in ranges:
            for item in value if isinstance(value, tuple) else (value,):
                check_number(item, ranges[key], name, error)
