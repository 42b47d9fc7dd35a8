"""The model zoo: a registry of Brevitas models whose every layer has its own bit-widths; and
your own networks (a torchvision name, a factory, an nn.Module), converted to the same form."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from energy_models.registry import Registry

from ..bitconfig import apply_bit_config
from ..errors import InputError
from ..layers import WEIGHT_QUANTIZERS, QuantLayer, quant_layers
from ..quantization import set_quantization
from .base import QuanosModel
from .converted import ConvertedModel, converted_model
from .resnet import resnet18, resnet20
from .small_cnn import SmallCNN
from .sources import check_source, is_source
from .vgg import CONFIGS, VGG
from .weights import load_weights

MODELS: Registry = Registry("model")

MODELS.register("small_cnn")(SmallCNN)
MODELS.register("resnet20")(resnet20)
MODELS.register("resnet18")(resnet18)
for _name, _cfg in CONFIGS.items():
    MODELS.register(_name)(lambda cfg=_cfg, **kw: VGG(cfg, **kw))


def list_models() -> list[str]:
    """Names accepted by :func:`create_model` (besides sources: quanos_hw/models/sources.py)."""
    return MODELS.names()


def check_model_name(name: str) -> None:
    """A registered name or a well-formed source (a known torchvision name, an existing file);
    an UnknownNameError or ModelError otherwise. Nothing is imported or built."""
    if is_source(name):
        check_source(name)
    else:
        MODELS.get(name)


def create_model(
    name: str | nn.Module,
    num_classes: int = 10,
    in_channels: int = 3,
    bit_config: int | dict | None = None,
    *,
    quantize: bool = True,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    weight_scaling: str = "per_channel",
    weights: str | Path | None = None,
) -> QuanosModel:
    """Build a registered model, or convert your own network.

    Args:
        name: one of :func:`list_models`; a source ``torchvision:NAME[?k=v]``,
            ``package.module:factory`` or ``path/file.py:factory`` (quanos_hw/models/sources.py); or an
            nn.Module (copied). Sources and modules are converted (quanos_hw/convert.py) into a
            :class:`ConvertedModel` whose layers are named ``net.<module name>``.
        num_classes, in_channels: classifier outputs and input channels.
        bit_config: ``None`` (uniform 16-bit), an int (uniform bits) or a bit configuration
            ``{layer: {"weight_bit_width": w, "act_bit_width": a}}`` covering every layer.
        quantize: ``False`` builds the same model with its quantizers disabled (float mode).
        mean, std: per-channel input normalisation applied inside the model.
        weight_scaling: ``"per_channel"`` (default) or ``"per_tensor"`` weight scale factors.
        weights: a state_dict file loaded into the float network before conversion (for a zoo name,
            into the model itself); see quanos_hw/models/weights.py.
    """
    own = isinstance(name, nn.Module) or is_source(name)
    factory = None if own else MODELS.get(name)
    for what, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{what} must be a positive integer, got {value!r}")
    if weight_scaling not in WEIGHT_QUANTIZERS:
        raise InputError(f"weight_scaling must be one of {sorted(WEIGHT_QUANTIZERS)}, got {weight_scaling!r}")
    if own:
        model = converted_model(name, num_classes, in_channels, weight_scaling, weights)
    else:
        model = factory(num_classes=num_classes, in_channels=in_channels, weight_scaling=weight_scaling)
        if weights is not None:
            load_weights(model, weights, f"model {name!r}")
    if mean is not None or std is not None:
        model.set_normalization(tuple(mean or (0.0,) * in_channels), tuple(std or (1.0,) * in_channels))
    apply_bit_config(model, 16 if bit_config is None else bit_config)
    set_quantization(model, quantize)
    return model


def quantizable_layers(model: nn.Module) -> list[str]:
    """Stable names (``named_modules()`` names) of the model's quantizable layers, in order: the
    keys of :func:`quanos_hw.layers.quant_layers`, the one function that lists them."""
    return list(quant_layers(model))


__all__ = ["MODELS", "ConvertedModel", "QuanosModel", "QuantLayer", "check_model_name", "create_model", "is_source",
           "list_models", "quantizable_layers"]
