"""Layer extraction: the :class:`energy_models.LayerSpec` list of any torch model.

One forward pass of a zero input with forward hooks records, for every conv and linear layer,
its MACs (grouped and depthwise convs counted as ``outputs * in_channels / groups * kh * kw``),
weights, input and output activation counts, and which layer produced its input activations (so
the energy model knows the precision of the MAC's activation operand).

For quanos-hw models a layer is a :class:`~quanos_hw.layers.QuantLayer` (named by its
``named_modules()`` name, bits read from the model or from a bit configuration); for any other
model every ``nn.Conv2d`` / ``nn.Linear`` is a layer named by its module name.

Producer tracking follows tensors through modules that keep a layer's activations as they are
(pooling, flattening, normalisation, BatchNorm, ReLU, dropout, identity); a layer whose input
comes through anything else (e.g. a functional op in ``forward``) gets ``input_source=None``
and is costed with its own activation bit-width. So is every layer of a converted network
(:class:`~quanos_hw.layers.InputQuantLayer`, quanos_hw/convert.py): it quantizes its own input at
its ``act_bit_width``, which is then exactly the precision of its MACs' activation operand.

A converted network's MACs must all be in its layers: a matrix product or convolution computed by
a function in ``forward`` (``torch.matmul``, ``@``, ``F.linear``, attention, ...) would be neither
quantized nor counted, and is refused with one line naming it. A layer that runs twice in one
forward pass (one module called twice) is refused for every model: it has one bit-width and one
LayerSpec.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from energy_models import NETWORK_INPUT, LayerSpec, with_bits

from .bitconfig import BitConfig, bit_config_for
from .errors import InputError, ModelError
from .layers import Normalize, quant_layers
from .modes import eval_mode

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
        return dict(kind="conv", macs=int(macs), padded_inputs=_padded_inputs(op, x), out_channels=op.out_channels,
                    in_channels=op.in_channels, out_height=int(out.shape[2]), out_width=int(out.shape[3]),
                    kernel_height=kh, kernel_width=kw, groups=op.groups)
    macs = out.numel() * op.in_features
    return dict(kind="linear", macs=int(macs), padded_inputs=int(x.numel()), out_channels=op.out_features,
                in_channels=op.in_features, out_height=1, out_width=1, kernel_height=1, kernel_width=1)


def _extra_params(op: nn.Module, norm: nn.Module | None) -> int:
    extra = op.bias.numel() if getattr(op, "bias", None) is not None else 0
    if norm is not None:
        extra += sum(p.numel() for p in norm.parameters())
    return int(extra)


class _Recorder:
    """Forward hooks recording every compute layer's counts and the producer of its input.

    ``sources`` maps a tensor's id to (the tensor, kept alive; the name of the layer that produced
    it); pass-through modules forward their input's producer to their output.
    """

    def __init__(self) -> None:
        self.sources: dict[int, tuple[torch.Tensor, str]] = {}
        self.depth = 0  # how many compute layers the forward pass is inside
        self.records: dict[str, dict] = {}
        self.order: list[str] = []
        self.handles: list = []

    def mark(self, tensor: torch.Tensor, producer: str) -> None:
        self.sources[id(tensor)] = (tensor, producer)

    def source_of(self, x: torch.Tensor) -> str | None:
        hit = self.sources.get(id(x))
        return hit[1] if hit is not None and hit[0] is x else None

    def watch(self, name: str, outer: nn.Module, op: nn.Module, norm: nn.Module | None,
              own_input: bool = False) -> None:
        watcher = _LayerWatch(self, name, op, norm, own_input)
        self.handles += [outer.register_forward_pre_hook(watcher.on_input), op.register_forward_hook(watcher.on_op),
                         outer.register_forward_hook(watcher.on_output)]

    def record(self, name: str, record: dict, out: torch.Tensor) -> None:
        if name in self.records:
            raise ModelError(f"layer {name!r} runs twice in one forward pass; quanos-hw gives every layer one "
                             "bit-width and counts it once: give each use its own module")
        self.records[name] = record
        self.order.append(name)
        self.mark(out, name)

    def pass_through(self, module: nn.Module) -> None:
        self.handles.append(module.register_forward_hook(self._forward_source))

    def _forward_source(self, module, args, out) -> None:
        """A pass-through module's output keeps the producer of its input."""
        if args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            src = self.source_of(args[0])
            if src is not None:
                self.mark(out, src)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class _LayerWatch:
    """The hooks of one compute layer: its input and output at the outer module (the QuantLayer,
    or the plain conv/linear itself), the conv/linear shapes at ``op``. ``own_input``: the layer
    quantizes its own input (its producer does not decide the operand's precision)."""

    def __init__(self, recorder: _Recorder, name: str, op: nn.Module, norm: nn.Module | None,
                 own_input: bool) -> None:
        self.recorder, self.name, self.op, self.norm, self.own_input = recorder, name, op, norm, own_input
        self.x = self.op_in = self.op_out = None

    def on_input(self, module, args) -> None:
        self.x = args[0]
        self.recorder.depth += 1

    def on_op(self, module, args, out) -> None:
        self.op_in, self.op_out = args[0], out

    def on_output(self, module, args, out) -> None:
        self.recorder.depth -= 1
        x, op = self.x, self.op
        source = None if self.own_input else self.recorder.source_of(x)
        record = dict(name=self.name, input_source=source, inputs=int(x.numel()),
                      outputs=int(out.numel()), weights=int(op.weight.numel()),
                      extra_params=_extra_params(op, self.norm))
        record.update(_shape_counts(op, self.op_in, self.op_out))
        self.x = self.op_in = self.op_out = None
        self.recorder.record(self.name, record, out)


def _trace(model: nn.Module, shape: tuple[int, ...]) -> list[dict]:
    """One forward pass of a zero input: the record of every compute layer, in execution order."""
    quant = quant_layers(model)
    inside_quant = {id(m) for layer in quant.values() for m in layer.modules()}
    plain = {name: m for name, m in model.named_modules()
             if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in inside_quant}
    if not quant and not plain:
        raise InputError("the model has no conv or linear layers")
    recorder = _Recorder()
    for name, layer in quant.items():
        recorder.watch(name, layer, layer.op, layer.norm, layer.quantizes_input)
    for name, op in plain.items():
        recorder.watch(name, op, op, None)
    for m in model.modules():
        if isinstance(m, _PASS_THROUGH) and id(m) not in inside_quant:
            recorder.pass_through(m)
    x = torch.zeros((1, *shape))
    recorder.mark(x, NETWORK_INPUT)
    functional = _FunctionalMacs(recorder)
    converted = any(layer.quantizes_input for layer in quant.values())
    try:
        with eval_mode(model), torch.no_grad(), (functional if converted else contextlib.nullcontext()):
            model(x)
    except InputError:
        raise
    except (RuntimeError, ValueError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"input shape {shape} does not fit the model: {first}") from None
    finally:
        recorder.remove()
    if functional.found:
        raise ModelError(f"the model computes {', '.join(sorted(functional.found))} in its forward code, outside its "
                         "conv and linear modules; quanos-hw can neither quantize nor count those MACs (use "
                         "nn.Conv2d / nn.Linear modules)")
    return [{**recorder.records[name], **_own_bits(quant.get(name))} for name in recorder.order]


#: functions that multiply-accumulate: called outside a compute layer of a converted network, refused
_MAC_FUNCTIONS = {
    torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.baddbmm, torch.addbmm, torch.einsum, torch.tensordot,
    torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__, torch.Tensor.mm, torch.Tensor.bmm,
    F.linear, F.bilinear, F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
    F.scaled_dot_product_attention, F.multi_head_attention_forward,
}


class _FunctionalMacs(TorchFunctionMode):
    """Records the multiply-accumulating functions called while the pass is in no compute layer."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder
        self.found: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.recorder.depth == 0 and func in _MAC_FUNCTIONS:
            self.found.add(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def _own_bits(layer: nn.Module | None) -> dict[str, int]:
    """A QuantLayer's current bits; a plain torch layer counts as 16-bit."""
    if layer is None:
        return {"weight_bit_width": 16, "act_bit_width": 16}
    return {"weight_bit_width": layer.weight_bit_width, "act_bit_width": layer.act_bit_width}


#: most values in one input that extract_layers traces (4 Mi, e.g. 3 x 1024 x 1024): the trace runs one
#: forward pass, so the work and the activations' memory (a few hundred MiB for VGG) stay bounded
MAX_INPUT_ELEMENTS = 2**22
#: most input channels (C of C,H,W): the first layer's weights grow with them
MAX_INPUT_CHANNELS = 4096


def check_input_shape(shape: Sequence[int], what: str = "input shape") -> None:
    """Refuse, before anything is allocated, an input of more than MAX_INPUT_ELEMENTS values or
    (C,H,W) MAX_INPUT_CHANNELS channels."""
    if len(shape) == 3 and shape[0] > MAX_INPUT_CHANNELS:
        raise InputError(f"{what} {','.join(map(str, shape))} has {shape[0]:,} channels; at most "
                         f"{MAX_INPUT_CHANNELS:,} are accepted")
    elements = math.prod(shape)
    if elements > MAX_INPUT_ELEMENTS:
        raise InputError(f"{what} {','.join(map(str, shape))} has {elements:,} values per input; at most "
                         f"{MAX_INPUT_ELEMENTS:,} (e.g. 3,1024,1024) are accepted")


def extract_layers(
    model: nn.Module,
    input_shape: Sequence[int],
    bit_config: int | dict | None = None,
) -> list[LayerSpec]:
    """LayerSpecs of ``model`` for one input of shape ``input_shape`` (C, H, W or features).

    ``bit_config``: None (the model's own bits; 16 for plain torch layers), an int (uniform) or
    ``{name: {"weight_bit_width": w, "act_bit_width": a}}`` naming every layer; it is validated
    here, once, and the bits travel on in the LayerSpecs.
    """
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s <= 0 for s in shape):
        raise InputError(f"input shape must be positive integers, got {tuple(input_shape)}")
    check_input_shape(shape)
    layers = [LayerSpec(**record) for record in _trace(model, shape)]
    return layers if bit_config is None else with_bit_config(layers, bit_config)


def with_bit_config(layers: Sequence[LayerSpec], bit_config: int | dict) -> list[LayerSpec]:
    """``layers`` at the bits of ``bit_config`` (an int: uniform), validated against their names."""
    config: BitConfig = bit_config_for(bit_config, [layer.name for layer in layers])
    return list(with_bits(layers, [config[layer.name]["weight_bit_width"] for layer in layers],
                          [config[layer.name]["act_bit_width"] for layer in layers]))
