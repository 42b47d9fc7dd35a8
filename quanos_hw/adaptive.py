"""Adaptive white-box attacks on quantized networks: gradients through the float twin (BPDA).

Brevitas quantizers pass gradients by the straight-through estimator (STE): the rounding is
treated as the identity in the backward pass, but the clipping and the coarse steps of the forward
pass still shape the gradient, and a network with coarse layers can hide useful gradient
directions that way (gradient masking; Athalye, Carlini & Wagner, "Obfuscated gradients give a
false sense of security", ICML 2018, whose BPDA replaces a non-differentiable part by a
differentiable approximation in the backward pass only). :class:`FloatTwinGradient` does this for
the whole network: its forward pass returns the quantized model's logits, its backward pass is that
of the float twin (the same weights with every quantizer off, quanos_hw.quantization.set_quantization):

    y = f_float(x) + (f_quant(x) - f_float(x)).detach()

so an attack that calls it sees the quantized model's predictions and losses (y equals
f_quant(x) up to float rounding) and follows the float network's gradient. The robustness
evaluation runs every white-box gradient attack of the worst-case suite both ways (STE and float
twin) and keeps the lower accuracy; the adversarial images are always judged on the quantized model
itself.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .layers import quant_layers
from .quantization import set_quantization


def quantizers_enabled(model: nn.Module) -> bool:
    """True when any quantizable layer of ``model`` quantizes (False for a float model or one
    without quantizable layers)."""
    return any(not layer.op.weight_quant.disable_quant or not layer.act.act_quant.disable_quant
               for layer in quant_layers(model).values())


class FloatTwinGradient(nn.Module):
    """The quantized model's logits with the float twin's gradient (see the module docstring).
    The twin is a deep copy of ``model`` taken now, with its quantizers switched off; ``model`` is
    not changed (the wrapper starts in the model's train/eval mode)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.quantized = model
        self.float_twin = copy.deepcopy(model)
        set_quantization(self.float_twin, False)
        self.train(model.training)  # eval_mode restores this mode on both: the model's own

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            quantized = self.quantized(x)
        floating = self.float_twin(x)
        return floating + (quantized - floating).detach()


def float_twin_gradient(model: nn.Module) -> FloatTwinGradient | None:
    """The BPDA view of ``model``, or None when it quantizes nothing (its twin would be itself)."""
    return FloatTwinGradient(model) if quantizers_enabled(model) else None
