"""Building blocks of every quanos-hw model: one quantizable layer with its own bit-widths.

A *quantizable layer* is a :class:`QuantLayer`: a Brevitas ``QuantConv2d`` or ``QuantLinear``,
an optional BatchNorm, an optional residual input, and the layer's activation quantizer
(``QuantReLU`` or, for outputs that are not rectified, a signed ``QuantIdentity``)::

    y = act_quant( relu?( bn( op(x) ) + residual ) )

The layer's ``weight_bit_width`` sets ``op``'s weight quantizer; its ``act_bit_width`` sets the
quantizer on the layer's output. A network converted from plain torch (quanos_hw/convert.py) is
made of :class:`InputQuantLayer` instead: the activation quantizer sits on the layer's *input*,
``y = op(act_quant(x))``, so there ``act_bit_width`` is the precision of the activations the
layer's MACs consume. Both bit-widths are Brevitas ``stateful_const`` buffers, so they
are saved in checkpoints and can be changed in place (:meth:`QuantLayer.set_bits`) without
touching trained weights or learned activation scales. :func:`quant_layers` is the one function
that lists a model's quantizable layers.

This module sits below the model zoo (``quanos_hw.models``), the bit configurations
(``quanos_hw.bitconfig``) and the quantization controls (``quanos_hw.quantization``), which all
build on it; it imports none of them.
"""

from __future__ import annotations

import brevitas.nn as qnn
import torch
from brevitas.core.bit_width import BitWidthStatefulConst
from brevitas.quant import (
    Int8ActPerTensorFloat,
    Int8WeightPerChannelFloat,
    Int8WeightPerTensorFloat,
    Uint8ActPerTensorFloat,
)
from torch import nn

from .clamp import MaskedClamp


class WeightQuantPerChannel(Int8WeightPerChannelFloat):
    """Signed narrow-range weights, one float scale per output channel, bit-width in state."""

    bit_width_impl_type = "stateful_const"


class WeightQuantPerTensor(Int8WeightPerTensorFloat):
    """Signed narrow-range weights, one float scale per tensor, bit-width in state."""

    bit_width_impl_type = "stateful_const"


class UnsignedActQuant(Uint8ActPerTensorFloat):
    """Unsigned activations after ReLU; learned per-tensor clip range initialised by calibration."""

    bit_width_impl_type = "stateful_const"
    tensor_clamp_impl = MaskedClamp  # Brevitas' TensorClamp, faster, same results (quanos_hw/clamp.py)


class SignedActQuant(Int8ActPerTensorFloat):
    """Signed activations (logits, shortcut branches); learned clip range, bit-width in state."""

    bit_width_impl_type = "stateful_const"
    tensor_clamp_impl = MaskedClamp  # Brevitas' TensorClamp, faster, same results (quanos_hw/clamp.py)


WEIGHT_QUANTIZERS = {"per_channel": WeightQuantPerChannel, "per_tensor": WeightQuantPerTensor}


def _bit_width_buffer(proxy: nn.Module) -> torch.Tensor:
    """The ``bit_width`` buffer of the BitWidthStatefulConst inside a Brevitas quant proxy."""
    for module in proxy.modules():
        if isinstance(module, BitWidthStatefulConst):
            return module.bit_width
    raise TypeError(f"{type(proxy).__name__} has no stateful bit-width")


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` inside the model, so inputs and attacks live in [0, 1]."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class QuantLayer(nn.Module):
    """One quantizable layer: ``op`` -> optional ``norm`` -> (+ residual) -> ``act`` quantizer."""

    #: whether ``act`` quantizes the layer's input (InputQuantLayer) rather than its output
    quantizes_input = False

    def __init__(self, op: nn.Module, norm: nn.Module | None, act: nn.Module, relu: bool) -> None:
        super().__init__()
        self.op = op
        self.norm = norm
        self.act = act
        self.relu = relu

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        y = self.op(x)
        if self.norm is not None:
            y = self.norm(y)
        if residual is not None:
            y = y + residual
        return self.act(y)

    def activation_point(self, pre_activation: torch.Tensor, point: str) -> torch.Tensor:
        """The float tensor at ``point`` ('pre': before the ReLU, 'post': what the quantizer sees)."""
        if point == "pre" or not self.relu:
            return pre_activation
        return torch.relu(pre_activation)

    @property
    def weight_bit_width(self) -> int:
        return int(_bit_width_buffer(self.op.weight_quant).item())

    @property
    def act_bit_width(self) -> int:
        return int(_bit_width_buffer(self.act.act_quant).item())

    def set_bits(self, weight_bit_width: int, act_bit_width: int) -> None:
        """Write both bit-widths in place; weights and learned scales are kept.

        The values are not checked here: :func:`quanos_hw.bitconfig.apply_bit_config` validates a
        whole configuration once, at the boundary, before it writes it.
        """
        _bit_width_buffer(self.op.weight_quant).fill_(float(weight_bit_width))
        _bit_width_buffer(self.act.act_quant).fill_(float(act_bit_width))


class InputQuantLayer(QuantLayer):
    """A converted conv or linear layer: ``op(act(x))``, the activation quantizer on the input.

    ``op`` is a Brevitas QuantConv2d / QuantLinear holding the float layer's weights and bias;
    ``act`` is a signed QuantIdentity (:class:`SignedActQuant`, a learned clip range), because a
    converted layer's input may be negative (nothing says a ReLU precedes it). ``act_bit_width``
    is therefore the precision of the activation operand of the layer's MACs, and the hardware
    estimate costs the layer with it (quanos_hw/hardware.py).
    """

    quantizes_input = True

    def __init__(self, op: nn.Module, act: nn.Module) -> None:
        super().__init__(op, None, act, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(self.act(x))

    def __getattr__(self, name: str):
        """Attributes the layer lacks are ``op``'s (``weight``, ``in_channels``, ...), as code written
        for the float layer expects; private names are never forwarded."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            op = self.__dict__.get("_modules", {}).get("op")
            if name.startswith("_") or op is None:
                raise
            return getattr(op, name)


def quant_layers(model: nn.Module) -> dict[str, QuantLayer]:
    """The model's quantizable layers: ``named_modules()`` name -> QuantLayer, in registration order."""
    return {name: module for name, module in model.named_modules() if isinstance(module, QuantLayer)}


def conv_layer(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
    relu: bool = True,
    bits: int = 16,
    weight_scaling: str = "per_channel",
) -> QuantLayer:
    """A QuantConv2d (no bias) + BatchNorm2d + QuantReLU (or signed QuantIdentity) layer."""
    op = qnn.QuantConv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        groups=groups,
        bias=False,
        weight_quant=WEIGHT_QUANTIZERS[weight_scaling],
        weight_bit_width=bits,
    )
    return QuantLayer(op, nn.BatchNorm2d(out_channels), _act(relu, bits), relu)


def linear_layer(
    in_features: int,
    out_features: int,
    relu: bool = False,
    bits: int = 16,
    weight_scaling: str = "per_channel",
) -> QuantLayer:
    """A QuantLinear (float bias) + QuantReLU or signed QuantIdentity layer (no BatchNorm)."""
    op = qnn.QuantLinear(
        in_features,
        out_features,
        bias=True,
        weight_quant=WEIGHT_QUANTIZERS[weight_scaling],
        weight_bit_width=bits,
    )
    return QuantLayer(op, None, _act(relu, bits), relu)


def _act(relu: bool, bits: int) -> nn.Module:
    """QuantReLU (unsigned) after a ReLU, else a signed QuantIdentity; both return float tensors."""
    if relu:
        return qnn.QuantReLU(act_quant=UnsignedActQuant, bit_width=bits)
    return qnn.QuantIdentity(act_quant=SignedActQuant, bit_width=bits)
