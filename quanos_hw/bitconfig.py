"""Bit configurations: ``{"<layer name>": {"weight_bit_width": w, "act_bit_width": a}}``.

Layer names are the model's ``named_modules()`` names of its quantizable layers
(:func:`quanos_hw.quantizable_layers`). A configuration must name every layer exactly once;
bit-widths are integers in [MIN_BITS, MAX_BITS] (2..16, ``energy_models.bits``).

A configuration is validated once, where it enters (:func:`validate_bit_config`, called by
:func:`load_bit_config` with layer names, :func:`apply_bit_config` and
:func:`quanos_hw.hardware.extract_layers`); what these return is a normalised dict that the rest
of the code passes on unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from energy_models.bits import MAX_BITS, MIN_BITS

from .errors import BitConfigError, InputError
from .io import atomic_write_json, load_json_strict, read_input_text

if TYPE_CHECKING:  # torch only where a model is used: reading and validating a configuration needs no torch
    from torch import nn

BitConfig = dict[str, dict[str, int]]
FIELDS = ("weight_bit_width", "act_bit_width")


def check_bits(bits: object, what: str = "bit-width") -> int:
    """``bits`` as an int in [MIN_BITS, MAX_BITS], or a BitConfigError naming the problem."""
    if isinstance(bits, bool) or not isinstance(bits, int):
        if isinstance(bits, float) and bits.is_integer():
            bits = int(bits)
        else:
            raise BitConfigError(f"{what} must be an integer, got {bits!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise BitConfigError(f"{what} must be between {MIN_BITS} and {MAX_BITS}, got {bits}")
    return bits


def uniform_bit_config(layers: nn.Module | list[str], bits: int) -> BitConfig:
    """Every layer at ``bits`` for weights and activations."""
    if hasattr(layers, "named_modules"):  # a torch model
        from .layers import quant_layers

        layers = list(quant_layers(layers))
    names = list(layers)
    b = check_bits(bits)
    return {name: {"weight_bit_width": b, "act_bit_width": b} for name in names}


def validate_bit_config(config: object, layer_names: list[str]) -> BitConfig:
    """Check ``config`` against the model's layer names; return a normalised copy.

    Raises BitConfigError naming the first problem: not an object, unknown or missing layer
    names, a missing or extra field, a non-integer or out-of-range bit-width.
    """
    if not isinstance(config, dict):
        raise BitConfigError(f"bit configuration must be a JSON object, got {type(config).__name__}")
    unknown = [name for name in config if name not in layer_names]
    if unknown:
        raise BitConfigError(
            f"bit configuration names unknown layer(s) {unknown}; the model's layers are {layer_names}"
        )
    missing = [name for name in layer_names if name not in config]
    if missing:
        raise BitConfigError(f"bit configuration is missing layer(s) {missing}")
    out: BitConfig = {}
    for name in layer_names:
        entry = config[name]
        if not isinstance(entry, dict):
            raise BitConfigError(f"layer {name!r}: expected an object with {list(FIELDS)}, got {entry!r}")
        extra = sorted(set(entry) - set(FIELDS))
        if extra:
            raise BitConfigError(f"layer {name!r}: unknown field(s) {extra}; allowed: {list(FIELDS)}")
        for field in FIELDS:
            if field not in entry:
                raise BitConfigError(f"layer {name!r}: missing field {field!r}")
        out[name] = {field: check_bits(entry[field], f"layer {name!r} {field}") for field in FIELDS}
    return out


def bit_config_for(config: int | object, layer_names: list[str]) -> BitConfig:
    """The validated configuration of ``layer_names``: an int means uniform, anything else is
    checked by :func:`validate_bit_config`."""
    if isinstance(config, int) and not isinstance(config, bool):
        return uniform_bit_config(layer_names, config)
    return validate_bit_config(config, layer_names)


def load_bit_config(path: str | Path, layer_names: list[str] | None = None) -> BitConfig:
    """Read a bit configuration JSON file; validate it when ``layer_names`` is given."""
    path = Path(path)
    try:  # a regular UTF-8 file of bounded size; duplicate keys, NaN, huge integers, deep nesting refused
        config = load_json_strict(read_input_text(path, "bit configuration"), f"bit configuration {str(path)!r}")
    except InputError as exc:
        raise BitConfigError(str(exc)) from None
    if layer_names is None:
        if not isinstance(config, dict):
            raise BitConfigError(f"bit configuration must be a JSON object, got {type(config).__name__} in "
                                 f"{str(path)!r}")
        return config
    return validate_bit_config(config, layer_names)


def save_bit_config(config: BitConfig, path: str | Path) -> None:
    """Write a bit configuration atomically as pretty JSON."""
    atomic_write_json(path, config, indent=2)


def get_bit_config(model: nn.Module) -> BitConfig:
    """The effective bit-widths of every quantizable layer, read back from the model."""
    from .layers import quant_layers

    return {
        name: {"weight_bit_width": layer.weight_bit_width, "act_bit_width": layer.act_bit_width}
        for name, layer in quant_layers(model).items()
    }


def apply_bit_config(model: nn.Module, config: int | BitConfig) -> None:
    """Set every layer's bit-widths in place (an int means uniform); weights are kept."""
    from .layers import quant_layers

    layers = quant_layers(model)
    config = bit_config_for(config, list(layers))
    for name, layer in layers.items():
        layer.set_bits(config[name]["weight_bit_width"], config[name]["act_bit_width"])

