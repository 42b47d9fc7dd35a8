"""Layer extraction: the :class:`energy_models.LayerSpec` list of any torch model.

One forward pass of a zero input with forward hooks records, for every conv and linear layer,
its MACs (grouped and depthwise convs counted as ``outputs * in_channels / groups * kh * kw``),
weights, input and output activation counts, and which layer produced its input activations (so
the energy model knows the precision of the MAC's activation operand).

For quanos-hw models a layer is a :class:`~quanos_hw.models.layers.QuantLayer` (named by its
``named_modules()`` name, bits read from the model or from a bit configuration); for any other
model every ``nn.Conv2d`` / ``nn.Linear`` is a layer named by its module name.

Producer tracking follows tensors through modules that keep a layer's activations as they are
(pooling, flattening, normalisation, BatchNorm, ReLU, dropout, identity); a layer whose input
comes through anything else (e.g. a functional op in ``forward``) gets ``input_source=None``
and is costed with its own activation bit-width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from energy_models import NETWORK_INPUT, LayerSpec

from .errors import InputError
from .models.layers import Normalize, QuantLayer

_PASS_THROUGH = (
    Normalize, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
    nn.Flatten, nn.Dropout, nn.Identity, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6,
)


def _padded_inputs(op: nn.Conv2d, x: torch.Tensor) -> int:
    c, h, w = x.shape[1:]
    if isinstance(op.padding, str):  # 'same' / 'valid': torch pads symmetrically enough for counting
        ph = pw = 0 if op.padding == "valid" else None
        if ph is None:
            ph = (op.dilation[0] * (op.kernel_size[0] - 1)) // 2
            pw = (op.dilation[1] * (op.kernel_size[1] - 1)) // 2
    else:
        ph, pw = op.padding
    return int(c * (h + 2 * ph) * (w + 2 * pw))


def _shape_counts(op: nn.Module, x: torch.Tensor, out: torch.Tensor) -> dict:
    if isinstance(op, nn.Conv2d):
        kh, kw = op.kernel_size
        macs = out.numel() * (op.in_channels // op.groups) * kh * kw
        return dict(kind="conv", macs=int(macs), padded_inputs=_padded_inputs(op, x))
    macs = out.numel() * op.in_features
    return dict(kind="linear", macs=int(macs), padded_inputs=int(x.numel()))


def _extra_params(op: nn.Module, norm: nn.Module | None) -> int:
    extra = op.bias.numel() if getattr(op, "bias", None) is not None else 0
    if norm is not None:
        extra += sum(p.numel() for p in norm.parameters())
    return int(extra)


def extract_layers(
    model: nn.Module,
    input_shape: Sequence[int],
    bit_config: int | dict | None = None,
) -> list[LayerSpec]:
    """LayerSpecs of ``model`` for one input of shape ``input_shape`` (C, H, W or features).

    ``bit_config``: None (the model's own bits; 16 for plain torch layers), an int (uniform) or
    ``{name: {"weight_bit_width": w, "act_bit_width": a}}`` naming every layer.
    """
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s <= 0 for s in shape):
        raise InputError(f"input shape must be positive integers, got {tuple(input_shape)}")
    quant = {name: m for name, m in model.named_modules() if isinstance(m, QuantLayer)}
    inside_quant = {id(m) for layer in quant.values() for m in layer.modules()}
    plain = {
        name: m for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in inside_quant
    }
    if not quant and not plain:
        raise InputError("the model has no conv or linear layers")

    sources: dict[int, tuple[torch.Tensor, str]] = {}  # id(tensor) -> (tensor kept alive, producer)
    records: dict[str, dict] = {}
    order: list[str] = []

    def source_of(x: torch.Tensor) -> str | None:
        hit = sources.get(id(x))
        return hit[1] if hit is not None and hit[0] is x else None

    def watch(name: str, outer: nn.Module, op: nn.Module, norm: nn.Module | None) -> list:
        """Hooks recording layer ``name``: input at ``outer``, shapes at ``op``, output at ``outer``."""
        seen: dict = {}

        def pre(module, args):
            seen["x"] = args[0]

        def op_out(module, args, out):
            seen["op_in"], seen["op_out"] = args[0], out

        def post(module, args, out):
            x = seen.pop("x")
            rec = dict(name=name, input_source=source_of(x), inputs=int(x.numel()),
                       outputs=int(out.numel()), weights=int(op.weight.numel()),
                       extra_params=_extra_params(op, norm))
            rec.update(_shape_counts(op, seen.pop("op_in"), seen.pop("op_out")))
            records[name] = rec
            order.append(name)
            sources[id(out)] = (out, name)

        return [outer.register_forward_pre_hook(pre), op.register_forward_hook(op_out),
                outer.register_forward_hook(post)]

    def on_pass_through(module, args, out):
        if args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            src = source_of(args[0])
            if src is not None:
                sources[id(out)] = (out, src)

    handles = []
    for name, layer in quant.items():
        handles += watch(name, layer, layer.op, layer.norm)
    for name, op in plain.items():
        handles += watch(name, op, op, None)
    for m in model.modules():
        if isinstance(m, _PASS_THROUGH) and id(m) not in inside_quant:
            handles.append(m.register_forward_hook(on_pass_through))

    was_training = model.training
    model.eval()
    x = torch.zeros((1, *shape))
    sources[id(x)] = (x, NETWORK_INPUT)
    try:
        with torch.no_grad():
            model(x)
    except (RuntimeError, ValueError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"input shape {shape} does not fit the model: {first}") from None
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    bits = _resolve_bits(bit_config, order, quant)
    return [LayerSpec(**records[name], **bits[name]) for name in order]


def _resolve_bits(bit_config, order: list[str], quant: dict[str, QuantLayer]) -> dict[str, dict]:
    if bit_config is None:
        return {
            name: ({"weight_bit_width": quant[name].weight_bit_width, "act_bit_width": quant[name].act_bit_width}
                   if name in quant else {"weight_bit_width": 16, "act_bit_width": 16})
            for name in order
        }
    from .bitconfig import uniform_bit_config, validate_bit_config

    if isinstance(bit_config, int) and not isinstance(bit_config, bool):
        return uniform_bit_config(order, bit_config)
    return validate_bit_config(bit_config, order)
