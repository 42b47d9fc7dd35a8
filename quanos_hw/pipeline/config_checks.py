"""Checks of an experiment configuration, run when one is built (``__post_init__``): every key of
its declared type, names from the registries that use them, numbers in their ranges
(quanos_hw.bounds), the results folder named, the hardware description loadable, and the run's and
the sensitivity metric's own rules; :func:`coerce` turns YAML/JSON values into the fields' types.
Each check takes the configuration being built (an ExperimentConfig of pipeline/config.py, which
imports this module, hence no annotation naming it)."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import fields
from pathlib import Path

from ..bounds import CONFIG_RANGES, check_ranges
from ..errors import ConfigError, InputError

#: metric options that config keys set (metric_options may not repeat them): option -> key
METRIC_SETTING_KEYS = {"eps": "ans_eps", "max_batches": "ans_batches", "batch_size": "ans_batch_size",
                       "activation": "ans_activation"}


@functools.cache
def hints(cls: type) -> dict:
    from ..attacks import AttackSpec  # the type of the attacks key (imported when first needed)

    return typing.get_type_hints(cls, localns={"AttackSpec": AttackSpec})


def type_name(tp) -> str:
    text = str(tp).replace("typing.", "").replace("<class '", "").replace("'>", "")
    return text.replace("tuple[quanos_hw.attacks.base.AttackSpec, ...]", "list of attacks")


def matches(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        return isinstance(value, tuple) and all(matches(v, inner) for v in value)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def check_types(config) -> None:
    for name, tp in hints(type(config)).items():
        value = getattr(config, name)
        if not matches(value, tp):
            raise ConfigError(f"config key {name!r} must be {type_name(tp)}, got {value!r}")


#: Values of ``device`` (not a registry: what :func:`quanos_hw.pipeline.experiment.pick_device` accepts).
DEVICES = ("auto", "cpu", "cuda")


def name_choices() -> dict[str, list[str]]:
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


def _check_names(c) -> None:
    for name, allowed in name_choices().items():
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


def _check_dataset(c) -> None:
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


def _check_weights(c) -> None:
    if c.weights is not None and not Path(c.weights).is_file():
        raise ConfigError(f"config key 'weights': file {c.weights!r} does not exist")


def _check_numbers(c) -> None:
    """Every number finite and in its range (the table quanos_hw.bounds.CONFIG_RANGES)."""
    values = {f.name: getattr(c, f.name) for f in fields(c) if f.name != "attacks"}  # attacks check themselves
    check_ranges(values, CONFIG_RANGES, error=ConfigError)
    if c.attacks is not None:
        coerce(type(c), "attacks", c.attacks)  # at least one attack, each at most once


def check_out_dir(path: str, what: str = "config key 'out_dir'") -> None:
    """The results folder must be named: an empty path would silently mean the current folder."""
    if not path.strip():
        raise ConfigError(f"{what} is empty; name the results folder")
    if "\0" in path:
        raise ConfigError(f"{what} {path!r} holds a NUL character")


def check_values(c) -> None:
    _check_numbers(c)
    _check_names(c)
    _check_weights(c)
    check_out_dir(c.out_dir)
    _check_hardware(c)


def _check_hardware(c) -> None:
    """``hardware`` names a description that loads; it decides the technology and the memory
    traffic, so ``technology`` and ``dataflow`` must keep their defaults beside it."""
    if c.hardware is None:
        return
    try:
        c.accelerator()
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    defaults = {f.name: f.default for f in fields(c)}
    for key in ("technology", "dataflow"):
        if getattr(c, key) != defaults[key]:
            raise ConfigError(f"config key {key!r} cannot be set together with 'hardware': the accelerator "
                              "description decides the technology and the memory traffic")


def check_run_values(c) -> None:
    if c.qat_epochs < c.iterations:
        raise ConfigError(f"qat_epochs ({c.qat_epochs}) must be at least iterations ({c.iterations})")
    if c.k_min > c.k_init:
        raise ConfigError(f"config key 'k_min' ({c.k_min}) must not exceed 'k_init' ({c.k_init})")
    if 16 not in c.uniform_bits or 8 not in c.uniform_bits:
        raise ConfigError("config key 'uniform_bits' must include 16 and 8 (the reference baselines)")
    if isinstance(c.first_last, str) and c.first_last != "keep":
        raise ConfigError(f"config key 'first_last' must be null, 'keep' or a bit-width, got {c.first_last!r}")


def check_metric(c) -> None:
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
        if not matches(value, declared[name]):
            raise ConfigError(f"config key 'metric_options': {c.metric} option {name!r} must be "
                              f"{type_name(declared[name])}, got {value!r}")


def coerce(cls: type, name: str, value):
    """Lists from YAML/JSON become tuples where the field is a tuple; the attacks key's mappings
    become validated attack specs (an unknown attack or a bad parameter is a ConfigError)."""
    if name == "attacks" and value is not None:
        from ..attacks import attack_specs

        try:
            return attack_specs(value)
        except InputError as exc:
            raise ConfigError(f"config key 'attacks': {exc}") from None
    tp = hints(cls)[name]
    args = typing.get_args(tp)
    wants_tuple = typing.get_origin(tp) is tuple or any(typing.get_origin(a) is tuple for a in args)
    if wants_tuple and isinstance(value, list):
        return tuple(value)
    return value
