"""Your own network as a quanos-hw model: a float nn.Module, converted, behind the input normalisation.

:func:`converted_model` builds the float network (a source string, quanos_hw/models/sources.py, or a
copy of an nn.Module object), loads pretrained weights into it (quanos_hw/models/weights.py),
converts its conv and linear layers (quanos_hw/convert.py) and wraps it in a :class:`ConvertedModel`,
a :class:`QuanosModel` that normalises its [0, 1] input and calls the network's own ``forward``. The
network is the model's ``net`` child, so its layers are named ``net.<module name>`` (``net.conv1``,
``net.layer1.0.conv1``) in bit configurations, reports and checkpoints.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from ..convert import convert_model, float_state_dict
from ..errors import ModelError
from ..modes import eval_mode
from .base import QuanosModel
from .sources import build_float_model
from .weights import load_weights


class ConvertedModel(QuanosModel):
    """A converted network ``net`` behind the input normalisation."""

    def __init__(self, net: nn.Module, in_channels: int) -> None:
        super().__init__(in_channels)
        self.net = net

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def float_state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights under the float network's own names (load them into it)."""
        return float_state_dict(self.net)


def describe(model: nn.Module) -> str:
    """``module:QualifiedClass`` of an nn.Module object (its class, written as a source)."""
    cls = type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def converted_model(source: str | nn.Module, num_classes: int, in_channels: int, weight_scaling: str,
                    weights: str | Path | None = None) -> QuanosModel:
    """The quanos-hw model of ``source``: a source string or an nn.Module (copied, never changed).

    A QuanosModel object (an already quantizable model) is copied as it is."""
    if isinstance(source, QuanosModel):
        model = copy.deepcopy(source)
        if weights is not None:
            load_weights(model, weights, f"model {describe(source)!r}")
        return model
    what = f"model {source!r}" if isinstance(source, str) else f"model {describe(source)!r}"
    net = build_float_model(source, num_classes, in_channels) if isinstance(source, str) else copy.deepcopy(source)
    if weights is not None:
        load_weights(net, weights, what)
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    return ConvertedModel(convert_model(net, weight_scaling, what), in_channels).to(device)


def check_outputs(model: nn.Module, input_shape: tuple[int, ...], num_classes: int, what: str) -> None:
    """One forward pass of two zero inputs must give (2, num_classes) logits; a ModelError otherwise."""
    device = next(model.parameters()).device
    with eval_mode(model), torch.no_grad():
        out = model(torch.zeros((2, *input_shape), device=device))
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"{what} returns a {type(out).__name__}, not a tensor of logits")
    if tuple(out.shape) != (2, num_classes):
        raise ModelError(f"{what} gives outputs of shape {tuple(out.shape)} for 2 inputs; the data has {num_classes} "
                         "classes (does its factory take num_classes?)")
