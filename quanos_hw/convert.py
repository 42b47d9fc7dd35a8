"""Conversion of a plain torch network into one whose every conv and linear layer is quantizable.

Every ``nn.Conv2d`` and ``nn.Linear`` module (or a subclass that keeps their ``forward``) is replaced,
in place and under the same module name, by an :class:`~quanos_hw.layers.InputQuantLayer`::

    y = op(act_quant(x))      op: Brevitas QuantConv2d / QuantLinear, the float weights and bias copied

so each layer has its own weight bit-width (``op``'s weight quantizer, per-channel or per-tensor
scales) and activation bit-width (a signed quantizer with a learned clip range on the layer's input:
the precision of the activations its MACs consume). The network's ``forward`` stays the user's:
functional operations (residual additions, ``torch.flatten``, ``F.relu``) keep working, since only
modules are replaced. This is Brevitas' layer-wise quantization (``brevitas.graph.quantize.
layerwise_quantize``: a compute layer gets an input quantizer and a weight quantizer), built with
Brevitas' own module rewriter (``ModuleToModuleByInstance``) and the project's quantizers, whose
bit-widths are state (quanos_hw/layers.py).

What cannot be converted is refused with one line naming it: recurrent layers, attention, 1-D/3-D
and transposed convolutions, bilinear layers, lazy modules, conv/linear subclasses with their own
``forward``, and a compute module registered under two names. Matrix products computed in
``forward`` (``torch.matmul``, ``@``, ``F.linear``, ...) are found when the hardware trace runs
(quanos_hw/hardware.py) and refused there.
"""

from __future__ import annotations

import brevitas.nn as qnn
import torch
from brevitas.graph.base import ModuleToModuleByInstance
from torch import nn

from .errors import ModelError
from .layers import WEIGHT_QUANTIZERS, InputQuantLayer, QuantLayer, SignedActQuant, quant_layers

#: the float modules that are converted, and their Brevitas counterparts
CONVERTED = {nn.Conv2d: qnn.QuantConv2d, nn.Linear: qnn.QuantLinear}
#: modules with multiply-accumulates that quanos-hw cannot quantize or count
UNCONVERTIBLE = (nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention, nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d,
                 nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Bilinear)
#: at most this many offenders are named in an error
SHOWN = 4


def _float_class(module: nn.Module) -> type | None:
    """nn.Conv2d or nn.Linear when ``module`` computes exactly what that class computes, else None."""
    for cls in CONVERTED:
        if isinstance(module, cls) and all(getattr(type(module), f, None) is getattr(cls, f, None)
                                           for f in ("forward", "_conv_forward")):
            return cls
    return None


def _listing(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def _modules(module: nn.Module, prefix: str = ""):
    """(name, module) of every descendant, not entering quantizable layers or refused modules; a
    module registered under several names is yielded under each (``_modules``, not the de-duplicating
    ``named_children``)."""
    for name, child in module._modules.items():
        if child is None:
            continue
        full = f"{prefix}.{name}" if prefix else name
        yield full, child
        if not isinstance(child, (QuantLayer, *UNCONVERTIBLE)):
            yield from _modules(child, full)


def _refusal(module: nn.Module) -> str | None:
    """Why ``module`` cannot be converted, or None."""
    if isinstance(module, nn.modules.lazy.LazyModuleMixin) and module.has_uninitialized_params():
        return f"{type(module).__name__} (uninitialised: run one forward pass first)"
    if isinstance(module, UNCONVERTIBLE):
        return f"nn.{type(module).__name__}"
    if isinstance(module, tuple(CONVERTED)) and _float_class(module) is None:
        return f"{type(module).__name__} (a conv/linear subclass with its own forward)"
    return None


def check_convertible(net: nn.Module, what: str) -> list[str]:
    """The names of ``net``'s modules to convert; a ModelError naming what cannot be converted."""
    if _float_class(net) is not None:
        raise ModelError(f"{what} is a single {type(net).__name__}; wrap it in a module (e.g. nn.Sequential)")
    refused: dict[str, list[str]] = {}
    targets, seen = [], {}
    for name, module in _modules(net):
        why = _refusal(module)
        if why is not None:
            refused.setdefault(why, []).append(repr(name))
        elif _float_class(module) is not None:
            if id(module) in seen:
                raise ModelError(f"{what} cannot be converted: one {type(module).__name__} is registered as "
                                 f"{seen[id(module)]!r} and {name!r}; give every layer its own module")
            seen[id(module)] = name
            targets.append(name)
    if refused:
        listed = "; ".join(f"{why} at {_listing(names)}" for why, names in refused.items())
        raise ModelError(f"{what} cannot be converted: {listed}; quanos-hw quantizes nn.Conv2d and nn.Linear "
                         "layers only")
    if not targets and not quant_layers(net):
        raise ModelError(f"{what} has no nn.Conv2d or nn.Linear layer to quantize")
    return targets


@torch.no_grad()
def to_input_quant_layer(module: nn.Module, weight_scaling: str = "per_channel", bits: int = 16) -> InputQuantLayer:
    """An InputQuantLayer computing exactly ``module`` when its quantizers are disabled.

    Brevitas' rewriter copies the layer's hyper-parameters (channels, kernel, stride, padding,
    dilation, groups, padding mode, bias); the weights and the bias are copied here, unchanged."""
    cls = _float_class(module)
    rewriter = ModuleToModuleByInstance(module, CONVERTED[cls], weight_quant=WEIGHT_QUANTIZERS[weight_scaling],
                                        weight_bit_width=bits, return_quant_tensor=False)
    op = rewriter.init_new_module(module, load_state_dict=False)  # its own loader misses the stateful bit-width
    op.weight.copy_(module.weight)
    op.weight.requires_grad_(module.weight.requires_grad)
    if module.bias is not None:
        op.bias.copy_(module.bias)
        op.bias.requires_grad_(module.bias.requires_grad)
    act = qnn.QuantIdentity(act_quant=SignedActQuant, bit_width=bits, return_quant_tensor=False)
    layer = InputQuantLayer(op, act).to(module.weight.device)
    return layer.train(module.training)


def convert_model(net: nn.Module, weight_scaling: str = "per_channel", what: str = "the model") -> nn.Module:
    """Replace every convertible module of ``net`` by an InputQuantLayer, in place; returns ``net``.

    Layers already quantizable (a quanos-hw model) are kept as they are. ``what`` names the model in
    errors (a ModelError listing what cannot be converted)."""
    if weight_scaling not in WEIGHT_QUANTIZERS:
        raise ModelError(f"weight_scaling must be one of {sorted(WEIGHT_QUANTIZERS)}, got {weight_scaling!r}")
    targets = check_convertible(net, what)
    for name in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = net.get_submodule(parent_name)
        setattr(parent, attr, to_input_quant_layer(getattr(parent, attr), weight_scaling))
    return net


def float_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of the float network ``net`` was converted from: each converted layer's
    ``NAME.op.weight`` / ``NAME.op.bias`` become ``NAME.weight`` / ``NAME.bias``, quantizer state
    is dropped. Load it into the original architecture to take trained weights back."""
    converted = {name for name, layer in quant_layers(net).items() if isinstance(layer, InputQuantLayer)}
    out = {}
    for key, value in net.state_dict().items():
        layer = next((n for n in converted if key.startswith(n + ".")), None)
        if layer is None:
            out[key] = value
        elif key in (f"{layer}.op.weight", f"{layer}.op.bias"):
            out[f"{layer}.{key.rsplit('.', 1)[1]}"] = value
    return out
