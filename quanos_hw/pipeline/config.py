"""Experiment configurations: typed, frozen dataclasses, loadable from YAML/JSON and ``--set``.

:class:`ExperimentConfig` holds the keys every experiment reads (data, model, training schedule,
sensitivity measurement, robustness evaluation, hardware); :class:`RunConfig` (``quanos run``) adds
the QUANOS keys and baselines, and ``CompareConfig`` (``quanos compare``, in compare.py) its own.
Fields left ``None`` take the dataset's defaults (attack budgets of docs/design.md §3, augmentation);
:meth:`ExperimentConfig.resolve` fills them in, and the resolved configuration is saved with every
result and hashed to tie checkpoints to it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from ..bounds import CONFIG_RANGES, check_ranges
from ..errors import ConfigError, InputError
from ..io import load_json_strict, load_yaml_strict, read_input_text

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
        _check_types(self)
        _check_values(self)

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


#: metric options that config keys set (metric_options may not repeat them): option -> key
METRIC_SETTING_KEYS = {"eps": "ans_eps", "max_batches": "ans_batches", "batch_size": "ans_batch_size",
                       "activation": "ans_activation"}


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
        _check_run_values(self)
        _check_metric(self)

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


@functools.cache
def _hints(cls: type = RunConfig) -> dict:
    from ..attacks import AttackSpec  # the type of the attacks key (imported when first needed)

    return typing.get_type_hints(cls, localns={"AttackSpec": AttackSpec})


def _type_name(tp) -> str:
    text = str(tp).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("tuple[quanos_hw.attacks.base.AttackSpec, ...]", "list of attacks")


def _matches(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        return isinstance(value, tuple) and all(_matches(v, inner) for v in value)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _check_types(config: ExperimentConfig) -> None:
    for name, tp in _hints(type(config)).items():
        value = getattr(config, name)
        if not _matches(value, tp):
            raise ConfigError(f"config key {name!r} must be {_type_name(tp)}, got {value!r}")


#: Values of ``device`` (not a registry: what :func:`quanos_hw.pipeline.experiment.pick_device` accepts).
DEVICES = ("auto", "cpu", "cuda")


def _choices() -> dict[str, list[str]]:
    """The allowed values of every name-valued key, read from the registries that use them.

    Imported here rather than at module level: the registries pull in torch, and the CLI reads
    this module for ``--help`` before any of them is needed.
    """
    from energy_models import DATAFLOWS, list_architectures

    from ..attacks.suites import SUITES
    from ..data import list_datasets
    from ..layers import WEIGHT_QUANTIZERS
    from ..models import list_models
    from ..sensitivity.base import ACTIVATION_POINTS
    from ..splits import AUGMENTATIONS
    from ..training import OPTIMIZERS

    return {"dataset": list_datasets(), "model": list_models(), "weight_scaling": list(WEIGHT_QUANTIZERS),
            "device": list(DEVICES), "optimizer": list(OPTIMIZERS), "ans_activation": list(ACTIVATION_POINTS),
            "dataflow": list(DATAFLOWS), "augment": ["none", *AUGMENTATIONS],
            "mac_architectures": list_architectures(), "robustness": SUITES.names()}


def _check_names(c: ExperimentConfig) -> None:
    for name, allowed in _choices().items():
        if not hasattr(c, name):  # a key of another experiment's config
            continue
        value = getattr(c, name)
        if name == "model" and ":" in value:  # a source (a zoo name never holds a ':')
            _check_source(value)
        elif name == "mac_architectures":
            if not value:
                raise ConfigError("config key 'mac_architectures' needs at least one architecture")
            for arch in value:
                if arch not in allowed:
                    raise ConfigError(f"unknown MAC architecture {arch!r}; choose from {allowed}")
        elif name == "dataset":
            _check_dataset(c)
        elif value is not None or name != "augment":  # augment None: the dataset's default
            if value not in allowed:
                raise ConfigError(f"config key {name!r} must be one of {sorted(allowed)}, got {value!r}")


def _check_dataset(c: ExperimentConfig) -> None:
    """``dataset`` names a shipped dataset, ``folder:PATH`` or ``npz:FILE`` (read when the config
    is resolved); ``image_size`` is set only for a ``folder:`` dataset."""
    from ..data import list_datasets, user_dataset
    from ..errors import DatasetError

    try:
        source = user_dataset(c.dataset)
    except DatasetError as exc:
        raise ConfigError(f"config key 'dataset': {exc}") from None
    if source is None and c.dataset not in list_datasets():
        raise ConfigError(f"config key 'dataset' must be one of {list_datasets()}, folder:PATH or npz:FILE, got "
                          f"{c.dataset!r}")
    if c.image_size is not None and (source is None or source[0] != "folder"):
        raise ConfigError(f"config key 'image_size' applies to folder: datasets only, not {c.dataset!r}")


def _check_source(value: str) -> None:
    """A well-formed model source (parsed, not built: prepare() builds it once, before any file)."""
    from ..models.sources import check_source

    try:
        check_source(value)
    except InputError as exc:
        raise ConfigError(f"config key 'model': {exc}") from None


def _check_weights(c: ExperimentConfig) -> None:
    if c.weights is not None and not Path(c.weights).is_file():
        raise ConfigError(f"config key 'weights': file {c.weights!r} does not exist")


def _check_numbers(c: ExperimentConfig) -> None:
    """Every number finite and in its range (the table quanos_hw.bounds.CONFIG_RANGES)."""
    values = {f.name: getattr(c, f.name) for f in fields(c) if f.name != "attacks"}  # attacks check themselves
    check_ranges(values, CONFIG_RANGES, error=ConfigError)
    if c.attacks is not None:
        _coerce(type(c), "attacks", c.attacks)  # at least one attack, each at most once


def check_out_dir(path: str, what: str = "config key 'out_dir'") -> None:
    """The results folder must be named: an empty path would silently mean the current folder."""
    if not path.strip():
        raise ConfigError(f"{what} is empty; name the results folder")
    if "\0" in path:
        raise ConfigError(f"{what} {path!r} holds a NUL character")


def _check_values(c: ExperimentConfig) -> None:
    _check_numbers(c)
    _check_names(c)
    _check_weights(c)
    check_out_dir(c.out_dir)
    _check_hardware(c)


def _check_hardware(c: ExperimentConfig) -> None:
    """``hardware`` names a description that loads; it decides the technology and the memory
    traffic, so ``technology`` and ``dataflow`` must keep their defaults beside it."""
    if c.hardware is None:
        return
    try:
        c.accelerator()
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    defaults = {f.name: f.default for f in fields(ExperimentConfig)}
    for key in ("technology", "dataflow"):
        if getattr(c, key) != defaults[key]:
            raise ConfigError(f"config key {key!r} cannot be set together with 'hardware': the accelerator "
                              "description decides the technology and the memory traffic")


def _check_run_values(c: RunConfig) -> None:
    if c.qat_epochs < c.iterations:
        raise ConfigError(f"qat_epochs ({c.qat_epochs}) must be at least iterations ({c.iterations})")
    if c.k_min > c.k_init:
        raise ConfigError(f"config key 'k_min' ({c.k_min}) must not exceed 'k_init' ({c.k_init})")
    if 16 not in c.uniform_bits or 8 not in c.uniform_bits:
        raise ConfigError("config key 'uniform_bits' must include 16 and 8 (the reference baselines)")
    if isinstance(c.first_last, str) and c.first_last != "keep":
        raise ConfigError(f"config key 'first_last' must be null, 'keep' or a bit-width, got {c.first_last!r}")


def _check_metric(c: RunConfig) -> None:
    """``metric`` names a registered metric; ``metric_options`` are options it declares, of their
    declared types, and none that a config key already sets (METRIC_SETTING_KEYS)."""
    from ..errors import InputError
    from ..sensitivity import METRICS, check_metric_options, metric_options

    if c.metric not in METRICS:
        raise ConfigError(f"config key 'metric' must be one of {METRICS.names()}, got {c.metric!r}")
    try:
        check_metric_options(c.metric, c.metric_options)
    except InputError as exc:
        raise ConfigError(f"config key 'metric_options': {exc}") from None
    declared = metric_options(c.metric)
    for name, value in c.metric_options.items():
        if name in METRIC_SETTING_KEYS:
            raise ConfigError(f"config key 'metric_options': set {name!r} with config key "
                              f"{METRIC_SETTING_KEYS[name]!r}")
        if not _matches(value, declared[name]):
            raise ConfigError(f"config key 'metric_options': {c.metric} option {name!r} must be "
                              f"{_type_name(declared[name])}, got {value!r}")


def _coerce(cls: type, name: str, value):
    """Lists from YAML/JSON become tuples where the field is a tuple; the attacks key's mappings
    become validated attack specs (an unknown attack or a bad parameter is a ConfigError)."""
    if name == "attacks" and value is not None:
        from ..attacks import attack_specs

        try:
            return attack_specs(value)
        except InputError as exc:
            raise ConfigError(f"config key 'attacks': {exc}") from None
    tp = _hints(cls)[name]
    args = typing.get_args(tp)
    wants_tuple = typing.get_origin(tp) is tuple or any(typing.get_origin(a) is tuple for a in args)
    if wants_tuple and isinstance(value, list):
        return tuple(value)
    return value


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
    values = {k: _coerce(cls, k, v) for k, v in raw.items()}
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
