"""Model-wide quantization controls: float mode, activation calibration, bit read-back.

Float mode disables every weight and activation quantizer of the model's :class:`QuantLayer`
modules (Brevitas ``disable_quant``), so float training uses the same model code.

Brevitas activation quantizers start in a statistics phase: their clip range is the running
average of a high percentile of the activations over the first ``collect_stats_steps`` (300)
training steps, after which it becomes a learned parameter. Short runs on small data never leave
that phase, and a checkpoint taken inside it restores differently from the live model. quanos-hw
therefore *calibrates* before any quantized training: :func:`calibrate_activations` runs Brevitas'
``calibration_mode`` (float forward passes, true average of the statistics) over a fixed set of
batches and turns the result into the learned parameter. From then on every scale is a parameter
in the state dict, so training, checkpoints and resume are exact.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling
from brevitas.graph.calibrate import calibration_mode
from torch import nn

from .layers import quant_layers
from .modes import eval_mode

__all__ = ["calibrate_activations", "is_calibrated", "quant_layers", "quantization_enabled", "set_quantization"]


def set_quantization(model: nn.Module, enabled: bool) -> None:
    """Enable (quantized) or disable (float mode) every quantizer of the model's layers."""
    for layer in quant_layers(model).values():
        layer.op.weight_quant.disable_quant = not enabled
        layer.act.act_quant.disable_quant = not enabled


def quantization_enabled(model: nn.Module) -> bool:
    """True when the model's layers quantize (all of them; a mixed state is an error)."""
    states = {not layer.op.weight_quant.disable_quant for layer in quant_layers(model).values()}
    states |= {not layer.act.act_quant.disable_quant for layer in quant_layers(model).values()}
    if len(states) != 1:
        raise RuntimeError("model has some quantizers enabled and others disabled")
    return states.pop()


def _scalings(model: nn.Module) -> list[ParameterFromRuntimeStatsScaling]:
    return [m for m in model.modules() if isinstance(m, ParameterFromRuntimeStatsScaling)]


def is_calibrated(model: nn.Module) -> bool:
    """True when every activation clip range is a learned parameter (statistics phase over)."""
    return all(s.counter > s.collect_stats_steps for s in _scalings(model))


@torch.no_grad()
def calibrate_activations(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Initialise every activation quantizer's clip range from float statistics over ``batches``.

    The model runs in eval mode (BatchNorm statistics are not touched). Returns the number of
    batches used. Afterwards :func:`is_calibrated` is True.
    """
    count = 0
    with eval_mode(model), calibration_mode(model):
        for x in batches:
            model(x)
            count += 1
    if count == 0:
        raise ValueError("calibration needs at least one batch")
    return count
