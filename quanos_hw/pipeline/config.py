"""Experiment configurations: typed, frozen dataclasses, loadable from YAML/JSON and ``--set``.

:class:`ExperimentConfig` holds the keys every experiment reads (data, model, training schedule,
sensitivity measurement, robustness evaluation, hardware); :class:`RunConfig` (``quanos run``) adds
the QUANOS keys and baselines, and ``CompareConfig`` (``quanos compare``, in compare.py) its own.
Fields left ``None`` take the dataset's defaults (attack budgets of docs/design.md §3, augmentation);
:meth:`ExperimentConfig.resolve` fills them in, and the resolved configuration is saved with every
result and hashed to tie checkpoints to it. Every configuration is checked when it is built
(config_checks.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ConfigError, InputError
from ..io import load_json_strict, load_yaml_strict, read_input_text
from .config_checks import check_metric, check_run_values, check_types, check_values, coerce

if typing.TYPE_CHECKING:
    from ..attacks import AttackSpec


@dataclass(frozen=True)
class ExperimentConfig:
    """The keys shared by every experiment."""

    # data and model
    dataset: str = "mnist5k"
    data_dir: str | None = None
    download: bool = False
    split_seed: int = 0
    # folder:PATH datasets: resize and center-crop every image to this square side (None: the
    # images' own size, which must then be the same for all)
    image_size: int | None = None
    synthetic_train: int = 600
    synthetic_test: int = 200
    model: str = "small_cnn"  # a zoo name or a source: torchvision:NAME, package.module:factory, file.py:factory
    weights: str | None = None  # a state_dict file loaded into the model before conversion and training
    weight_scaling: str = "per_channel"
    seed: int = 0
    device: str = "auto"
    # schedule (one cosine schedule over warm-up + QAT, shared by every model)
    warmup_epochs: int = 3
    warmup_bits: int | None = None  # None: float warm-up; an int: quantized warm-up at that width (Algorithm 1: 16)
    qat_epochs: int = 3
    batch_size: int = 64
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: str | None = None
    calibration_batches: int = 8
    # sensitivity (the settings every metric that declares them gets: eps, batch_size, activation)
    ans_eps: float | None = None
    ans_batch_size: int = 128
    ans_activation: str = "post"
    # robustness: a list of attacks ({name: fgsm, eps: [0.05, 0.1]}, ...); None: the dataset's
    attacks: tuple[AttackSpec, ...] | None = None
    large_eps: float = 0.5
    large_eps_steps: int = 10
    large_eps_samples: int | None = 200
    check_tolerance: float = 0.01
    eval_batch_size: int = 256
    # the worst-case suite (quanos_hw.attacks.suites): 'default' (APGD-CE and Square on the first
    # 200 test images, within the run's time budget) or 'full' (APGD-CE, APGD-DLR, Square with
    # 5000 queries on every test image); robustness_samples overrides its image count
    robustness: str = "default"
    robustness_samples: int | None = None
    # hardware
    technology: str = "horowitz45"
    dataflow: str = "weights_dram_acts_sram"
    input_bit_width: int = 8
    # an accelerator description (a shipped name, see 'quanos list accelerators', or a YAML/JSON
    # file): energy, latency and area on it; it decides the technology and the memory traffic
    hardware: str | None = None
    # outputs
    out_dir: str = "quanos_results"

    def __post_init__(self) -> None:
        check_types(self)
        check_values(self)

    def resolve(self) -> ExperimentConfig:
        """Fill dataset-dependent defaults (``None`` fields)."""
        from ..data import dataset_info

        return dataclasses.replace(self, **self._defaults(dataset_info(self.dataset, self.image_size)))

    def _defaults(self, info) -> dict:
        from ..attacks import default_attacks

        return dict(
            augment=self.augment if self.augment is not None else info.augment,
            ans_eps=self.ans_eps if self.ans_eps is not None else info.ans_eps,
            attacks=self.attacks if self.attacks is not None else default_attacks(info),
        )

    def architectures(self) -> tuple[str, ...]:
        """The MAC architectures this experiment estimates energy on (checked before a file is
        written); each experiment's config names its own."""
        return ()

    def accelerator(self):
        """The accelerator description of config key ``hardware`` (an energy_models Accelerator),
        or None when the key is unset."""
        from ..accelerator import load_hardware

        return None if self.hardware is None else load_hardware(self.hardware, "config key 'hardware'")

    def metric_settings(self) -> dict:
        """{metric option: value} the config's keys give every metric that declares the option."""
        return {"eps": self.ans_eps, "batch_size": self.ans_batch_size, "activation": self.ans_activation,
                "seed": self.seed}

    def sensitivity_options(self, metric: str) -> dict:
        """The options passed to sensitivity metric ``metric``: the settings it declares."""
        from ..sensitivity import metric_options

        declared = metric_options(metric)
        return {k: v for k, v in self.metric_settings().items() if k in declared}

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def hash(self) -> str:
        """Hash of everything that affects results (the output directory and device excluded)."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("out_dir", "device")}
        for key in ("hardware", "image_size", "weights"):  # unset: the hash from before the key existed
            if data.get(key) is None:
                data.pop(key, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _plain(value):
    """A config value as JSON data: tuples become lists, attack specs mappings."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value.to_dict() if hasattr(value, "to_dict") else value


@dataclass(frozen=True)
class RunConfig(ExperimentConfig):
    """``quanos run``: the QUANOS experiment and its baselines."""

    # QUANOS: scores of ``metric`` (ANS by default) -> bits by the QUANOS rule
    metric: str = "ans"
    metric_options: dict = field(default_factory=dict, hash=False)
    ans_batches: int = 8
    k_init: int = 16
    k_min: int = 2
    first_last: str | int | None = None
    iterations: int = 1
    # baselines
    float_baseline: bool = True
    uniform_bits: tuple[int, ...] = (16, 8, 4)
    iso_size: bool = True
    surrogate_seed: int | None = None
    # hardware
    mac_architectures: tuple[str, ...] = ("fixed16", "data_gated", "subword_parallel", "bitfusion", "bit_serial")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_run_values(self)
        check_metric(self)

    def _defaults(self, info) -> dict:
        return {**super()._defaults(info),
                "surrogate_seed": self.surrogate_seed if self.surrogate_seed is not None else self.seed + 1}

    def architectures(self) -> tuple[str, ...]:
        return self.mac_architectures

    def metric_settings(self) -> dict:
        return {**super().metric_settings(), "max_batches": self.ans_batches}

    def sensitivity_options(self, metric: str | None = None) -> dict:
        """The options of ``metric`` (default: the configured one): the settings it declares, then
        ``metric_options`` (checked against the metric when the config was built)."""
        metric = self.metric if metric is None else metric
        return {**super().sensitivity_options(metric), **(self.metric_options if metric == self.metric else {})}


def config_from_dict(raw: object, origin: str = "config", base: RunConfig | None = None,
                     cls: type = RunConfig) -> RunConfig:
    """Build a config (``cls``, default RunConfig) from a mapping; unknown keys and wrong types
    are ConfigErrors."""
    base = base if base is not None else cls()
    cls = type(base)
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin} must be a mapping of config keys, got {type(raw).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown} in {origin}; see '--help-config'")
    values = {k: coerce(cls, k, v) for k, v in raw.items()}
    return dataclasses.replace(base, **values)


def parse_set(assignments: list[str], base: RunConfig) -> RunConfig:  # base's class is kept
    """Apply ``key=value`` overrides; values are parsed as YAML scalars or lists."""
    raw = {}
    for item in assignments:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        try:
            raw[key.strip()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot parse value {text!r}") from None
    return config_from_dict(raw, "--set", base)


def load_config_file(path: str | Path, base: RunConfig | None = None, cls: type = RunConfig) -> RunConfig:
    path = Path(path)
    origin = f"config file {str(path)!r}"
    try:  # a regular UTF-8 file of bounded size; duplicate keys, NaN, huge integers, deep nesting refused
        text = read_input_text(path, "config file")
        raw = load_json_strict(text, origin) if path.suffix == ".json" else load_yaml_strict(text, origin)
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(raw, dict) and set(raw) == {"config_hash", "config"}:
        raw = raw["config"]  # a results folder's config.json
    return config_from_dict(raw if raw is not None else {}, f"config file {str(path)!r}", base, cls)


def list_presets() -> list[str]:
    files = resources.files("quanos_hw").joinpath("presets").iterdir()
    return sorted(["default"] + [f.name[:-5] for f in files if f.name.endswith(".yaml")])


def load_preset(name: str) -> RunConfig:
    """``default`` is the embedded default; others are YAML files in quanos_hw/presets."""
    if name == "default":
        return RunConfig()
    if name not in list_presets():
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(list_presets())}")
    text = resources.files("quanos_hw").joinpath("presets", f"{name}.yaml").read_text()
    return config_from_dict(yaml.safe_load(text), f"preset {name!r}")
