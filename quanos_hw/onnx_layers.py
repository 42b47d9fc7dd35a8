"""Layer extraction from an ONNX file: the :class:`energy_models.LayerSpec` list, without torch.

The graph is read with the ``onnx`` package and its shapes come from ONNX shape inference
(``onnx.shape_inference.infer_shapes``, data propagation on) at batch 1: a symbolic batch
dimension is taken as 1, and ``input_shape`` (C,H,W) replaces the input's other dimensions.
Integer tensors that decide shapes through chains inference cannot evaluate are folded first
(:mod:`quanos_hw.onnx_fold`).

Compute layers (docs/design.md §5), counted like :mod:`quanos_hw.hardware` counts torch layers:

* ``Conv`` (1-D or 2-D, any ``group``: grouped and depthwise): MACs = output elements x C/group x
  kh x kw; ``padded_inputs`` adds the ``pads`` (or the ``auto_pad`` padding) to the input;
* ``Gemm`` (``transA``/``transB``) and ``MatMul``: MACs = output elements x K (the reduced
  dimension); ``out_height`` is the number of output rows (1 for a batch-1 classifier).

One operand must be a constant weight: a tensor that does not depend on the graph input (an
initializer or ``Constant``, also through ``Identity`` or a QCDQ ``QuantizeLinear`` -> ``Clip``
-> ``DequantizeLinear`` chain; QONNX ``Quant`` nodes are read as identities). ``weights`` is its
element count; ``extra_params`` counts the bias (Conv/Gemm input, or a constant ``Add`` right
after a MatMul) and the scale and bias of the BatchNormalization nodes that follow the layer
(the learned BatchNorm parameters, as hardware.py counts them). Ops that compute but are not
read here (ConvTranspose, recurrent cells, Einsum, attention, control flow, integer ops, a
MatMul or Conv whose operands both come from the input) are refused with one line naming them.

A layer is named by its ONNX node name (torch.onnx.export: ``/features/features.0/op/Conv``);
an unnamed node gets ``<OpType>_<index in graph.node>``, and a repeated name ``<name>#<k>``.
``input_source`` follows tensors through ops that keep a layer's activations (ReLU, Clip, pools,
Flatten/Reshape/Squeeze, BatchNormalization, Identity, Dropout, Q/DQ, Quant, and Add/Sub/Mul/Div
with a constant operand, e.g. the input normalisation); an Add of two activations keeps the
producer of its first operand, the branch the residual is added into (a quanos-hw QuantLayer
adds the residual before its activation quantizer, and both exporters keep that operand order),
so ResNet-20 reads as the torch path reads it. Anything else leaves the source unknown (None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from energy_models import NETWORK_INPUT, LayerSpec, with_bits

from .errors import InputError
from .onnx_fold import dynamic_tensors, fold_integer_constants

#: ops that keep a layer's activations (the producer of input 0 carries on to output 0)
PASS_THROUGH = frozenset({
    "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax",
    "Flatten", "Reshape", "Squeeze", "Unsqueeze", "BatchNormalization", "Identity", "Dropout",
    "QuantizeLinear", "DequantizeLinear",
})
#: element-wise ops that pass their one non-constant operand's producer on (input normalisation, biases)
ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Sum"})
#: ops that compute on activations but are not read by this module
UNSUPPORTED = frozenset({
    "ConvTranspose", "ConvInteger", "QLinearConv", "QLinearMatMul", "MatMulInteger", "DeformConv", "Einsum",
    "LSTM", "GRU", "RNN", "Attention", "MultiHeadAttention", "If", "Loop", "Scan",
})
#: QONNX quantizers (domain qonnx.custom_op.general): shape identities, read as Identity
_QONNX_OPS = frozenset({"Quant", "BipolarQuant", "Trunc"})
#: rounds of constant folding and shape inference (each round sees what the previous one inferred)
_FOLD_ROUNDS = 4
#: protobuf's limit on one serialized message
_MAX_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class _Graph:
    """The inferred graph: nodes in order, tensor shapes (None: unknown dimension), the tensors that
    depend on the input, consumers of each tensor and the one input's name."""

    nodes: tuple
    shapes: dict[str, tuple[int | None, ...]]
    dynamic: frozenset[str]
    consumers: dict[str, tuple]
    input_name: str

    def shape(self, tensor: str, node) -> tuple[int, ...]:
        dims = self.shapes.get(tensor)
        if dims is None or any(d is None for d in dims):
            raise InputError(f"ONNX node {_label(node)}: the shape of {tensor!r} is unknown after ONNX shape "
                             "inference")
        return dims  # type: ignore[return-value]

    def numel(self, tensor: str, node) -> int:
        return math.prod(self.shape(tensor, node))


def is_onnx_path(spec: str) -> bool:
    """Whether a model name given on the command line is an ONNX file (it ends in ``.onnx``)."""
    return str(spec).lower().endswith(".onnx")


@dataclass(frozen=True)
class OnnxLayers:
    """The layers of an ONNX model and the input shape (after the batch) they were counted at."""

    layers: tuple[LayerSpec, ...]
    input_shape: tuple[int, ...]


def layers_from_onnx(path: str | Path, input_shape: Sequence[int] | None = None,
                     bit_config: int | dict | None = None) -> list[LayerSpec]:
    """LayerSpecs of the ONNX model in ``path`` for one input (batch 1).

    ``input_shape``: the input's dimensions after the batch (C,H,W for an image), replacing the
    graph's; needed when they are symbolic. ``bit_config``: None (16 bits everywhere), an int
    (uniform) or ``{node name: {"weight_bit_width": w, "act_bit_width": a}}`` naming every layer.
    """
    return list(read_onnx(path, input_shape, bit_config).layers)


def read_onnx(path: str | Path, input_shape: Sequence[int] | None = None,
              bit_config: int | dict | None = None) -> OnnxLayers:
    """:func:`layers_from_onnx` with the input shape the layers were counted at."""
    model = _load(Path(path))
    graph = _infer(model, input_shape, str(path))
    _refuse_unsupported(graph)
    layers = _extract(graph)
    if not layers:
        raise InputError(f"ONNX model {str(path)!r} has no Conv, Gemm or MatMul layer with a constant weight")
    shape = graph.shapes[graph.input_name][1:]
    if bit_config is not None:
        from .bitconfig import bit_config_for

        config = bit_config_for(bit_config, [layer.name for layer in layers])
        layers = list(with_bits(layers, [config[x.name]["weight_bit_width"] for x in layers],
                                [config[x.name]["act_bit_width"] for x in layers]))
    return OnnxLayers(tuple(layers), tuple(int(d) for d in shape))


def _load(path: Path):
    """The ModelProto in ``path`` (weights kept external), or one InputError line."""
    try:
        import onnx
    except ImportError:
        raise InputError("reading an ONNX model needs the onnx extra: pip install 'quanos-hw[onnx]'") from None
    what = f"ONNX model {str(path)!r}"
    try:
        if not path.is_file():
            raise InputError(f"{what} does not exist or is not a regular file")
        if path.stat().st_size > _MAX_BYTES:
            raise InputError(f"{what} is larger than 2 GiB (keep the weights as external data)")
        with open(path, "rb") as f:
            first = f.read(1)
    except OSError as exc:
        raise InputError(f"{what} cannot be read: {exc.strerror or exc}") from None
    if first != b"\x08":  # a serialized ModelProto starts with field 1, ir_version
        raise InputError(f"{what} is not an ONNX model (not a serialized ModelProto)")
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own types
        raise InputError(f"{what} is not an ONNX model ({type(exc).__name__})") from None
    if model.ir_version <= 0 or not model.graph.node:
        raise InputError(f"{what} is not an ONNX model (no IR version or no nodes)")
    return model


def _infer(model, input_shape: Sequence[int] | None, origin: str) -> _Graph:
    """Local functions inlined, QONNX quantizers as Identity, the input at batch 1, then ONNX shape
    inference from scratch (the file's own intermediate shapes are dropped), repeated while integer
    constants that decide shapes are folded (:mod:`quanos_hw.onnx_fold`)."""
    import onnx.inliner

    try:
        if model.functions:
            model = onnx.inliner.inline_local_functions(model)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"ONNX model {origin!r}: its functions cannot be inlined ({_first_line(exc)})") from None
    graph = model.graph
    for node in graph.node:
        if node.op_type in _QONNX_OPS and node.domain.startswith("qonnx"):
            node.op_type, node.domain = "Identity", ""
            del node.input[1:]
            del node.attribute[:]
    constants = {t.name for t in graph.initializer} | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise InputError(f"ONNX model {origin!r} has {len(inputs)} inputs "
                         f"({', '.join(i.name for i in inputs) or 'none'}); one input is supported")
    _set_input_shape(inputs[0], input_shape, origin)
    model = _shape_inference(model, origin)
    for _ in range(_FOLD_ROUNDS):
        if not fold_integer_constants(model, inputs[0].name):
            break
        model = _shape_inference(model, origin)
    return _graph(model.graph, inputs[0].name)


def _shape_inference(model, origin: str):
    """ONNX shape inference (strict, with data propagation) from the inputs and initializers alone."""
    import onnx.shape_inference

    del model.graph.value_info[:]
    for out in model.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises InferenceError, ValidationError, RuntimeError
        raise InputError(f"ONNX model {origin!r}: shape inference failed: {_first_line(exc)}") from None


def _set_input_shape(value, input_shape: Sequence[int] | None, origin: str) -> None:
    """Batch 1 (a symbolic batch becomes 1), the other dimensions from ``input_shape`` if given."""
    dims = value.type.tensor_type.shape.dim
    what = f"ONNX model {origin!r} input {value.name!r}"
    if len(dims) < 2:
        raise InputError(f"{what} has {len(dims)} dimension(s); a batch dimension and at least one more are needed")
    if dims[0].HasField("dim_value") and dims[0].dim_value not in (0, 1):
        raise InputError(f"{what} has a fixed batch of {dims[0].dim_value}; export it with batch 1 or a dynamic batch")
    dims[0].dim_value = 1
    if input_shape is not None:
        shape = tuple(input_shape)
        if len(shape) != len(dims) - 1 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise InputError(f"{what}: input shape {shape} must be {len(dims) - 1} positive integers "
                             f"(the dimensions after the batch)")
        for dim, size in zip(dims[1:], shape):
            dim.dim_value = size
    unknown = [i for i, d in enumerate(dims) if not d.HasField("dim_value") or d.dim_value < 1]
    if unknown:
        raise InputError(f"{what} has symbolic dimension(s) {unknown}; give the input shape (--input-shape C,H,W)")


def _graph(graph, input_name: str) -> _Graph:
    shapes: dict[str, tuple[int | None, ...]] = {t.name: tuple(int(d) for d in t.dims) for t in graph.initializer}
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dynamic = dynamic_tensors(graph, input_name)
    return _Graph(tuple(graph.node), shapes, frozenset(dynamic), {k: tuple(v) for k, v in consumers.items()},
                  input_name)


def _refuse_unsupported(graph: _Graph) -> None:
    """One InputError naming every op type (and its first nodes) that computes on activations but is
    not read here."""
    found: dict[str, list[str]] = {}
    for i, node in enumerate(graph.nodes):
        if not any(name in graph.dynamic for name in node.input):
            continue  # constant work (folded weights, shapes) is not a layer
        op = node.op_type
        if op in ("MatMul", "Gemm") and all(name in graph.dynamic for name in node.input[:2]):
            op = f"{op} of two activations"
        elif op == "Conv" and len(node.input) > 1 and node.input[1] in graph.dynamic:
            op = "Conv with a non-constant weight"
        elif op not in UNSUPPORTED:
            continue
        found.setdefault(op, []).append(node.name or f"{node.op_type}_{i}")
    if found:
        parts = [f"{op} ({', '.join(names[:3])}{f', +{len(names) - 3} more' if len(names) > 3 else ''})"
                 for op, names in found.items()]
        raise InputError(f"unsupported ONNX compute op(s): {'; '.join(parts)}; Conv, Gemm and MatMul with a "
                         "constant weight are read")


def _extract(graph: _Graph) -> list[LayerSpec]:
    """Every compute layer in graph order, with the producer of its input."""
    sources: dict[str, str | None] = {graph.input_name: NETWORK_INPUT}
    names: set[str] = set()
    layers = []
    for i, node in enumerate(graph.nodes):
        counts = _compute_counts(graph, node)
        if counts is not None:
            name = _unique(node.name or f"{node.op_type}_{i}", names)
            act = counts.pop("act")
            layers.append(LayerSpec(name=name, input_source=sources.get(act), **counts))
            sources[node.output[0]] = name
        elif node.op_type in PASS_THROUGH and node.input:
            sources[node.output[0]] = sources.get(node.input[0])
        elif node.op_type in ELEMENTWISE:
            operands = [name for name in node.input if name in graph.dynamic]
            if len(operands) == 1 or (operands and node.op_type in ("Add", "Sum")):
                sources[node.output[0]] = sources.get(operands[0])
    return layers


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}#{k}"
    taken.add(out)
    return out


def _compute_counts(graph: _Graph, node) -> dict | None:
    """The LayerSpec fields of a compute node (``act``: its activation tensor), or None."""
    if node.op_type == "Conv" and node.input[0] in graph.dynamic:
        return _conv_counts(graph, node)
    if node.op_type in ("Gemm", "MatMul") and sum(name in graph.dynamic for name in node.input[:2]) == 1:
        return _matmul_counts(graph, node)
    return None


def _conv_counts(graph: _Graph, node) -> dict:
    x, w = graph.shape(node.input[0], node), graph.shape(node.input[1], node)
    y = graph.shape(node.output[0], node)
    groups = _attr(node, "group", 1)
    if len(w) not in (3, 4):
        raise InputError(f"ONNX node {_label(node)}: only 1-D and 2-D convolutions are read, got a "
                         f"{len(w) - 2}-D kernel")
    if x[1] != w[1] * groups:
        raise InputError(f"ONNX node {_label(node)}: {x[1]} input channels do not match the weight {w} "
                         f"with group {groups}")
    padded = x[1] * math.prod(size + pad for size, pad in zip(x[2:], _padding(node, x[2:], w[2:])))
    kh, kw = (1, w[2]) if len(w) == 3 else (w[2], w[3])
    oh, ow = (1, y[2]) if len(y) == 3 else (y[2], y[3])
    bias = graph.numel(node.input[2], node) if len(node.input) > 2 and node.input[2] else 0
    return dict(act=node.input[0], kind="conv", macs=math.prod(y) * math.prod(w[1:]), weights=math.prod(w),
                inputs=math.prod(x), outputs=math.prod(y), padded_inputs=padded,
                extra_params=bias + _following_params(graph, node), out_channels=w[0], in_channels=x[1],
                out_height=oh, out_width=ow, kernel_height=kh, kernel_width=kw, groups=groups)


def _padding(node, sizes: Sequence[int], kernel: Sequence[int]) -> list[int]:
    """Total zero padding per spatial axis: ``pads`` (begins then ends), or what ``auto_pad`` adds."""
    n = len(sizes)
    auto = _attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto == "VALID":
        return [0] * n
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        strides = _attr(node, "strides", [1] * n)
        dilations = _attr(node, "dilations", [1] * n)
        return [max((math.ceil(s / st) - 1) * st + (k - 1) * d + 1 - s, 0)
                for s, k, st, d in zip(sizes, kernel, strides, dilations)]
    pads = _attr(node, "pads", [0] * 2 * n)
    return [pads[i] + pads[i + n] for i in range(n)]


def _matmul_counts(graph: _Graph, node) -> dict:
    """Gemm or MatMul with one constant operand (the weight) and one activation."""
    a, b = node.input[0], node.input[1]
    weight_first = a not in graph.dynamic
    act, weight = (b, a) if weight_first else (a, b)
    sa, y = graph.shape(a, node), graph.shape(node.output[0], node)
    if node.op_type == "Gemm":
        k = sa[0] if _attr(node, "transA", 0) else sa[1]
        out_channels = y[0] if weight_first else y[1]
        bias = graph.numel(node.input[2], node) if len(node.input) > 2 and node.input[2] else 0
    else:
        k = sa[-1]
        out_channels = y[-2] if weight_first and len(y) > 1 else y[-1]
        bias = 0
    outputs = math.prod(y)
    inputs = graph.numel(act, node)
    return dict(act=act, kind="linear", macs=outputs * k, weights=graph.numel(weight, node), inputs=inputs,
                outputs=outputs, padded_inputs=inputs, extra_params=bias + _following_params(graph, node),
                out_channels=out_channels, in_channels=k, out_height=outputs // max(out_channels, 1), out_width=1,
                kernel_height=1, kernel_width=1)


def _following_params(graph: _Graph, node) -> int:
    """Parameters of what directly follows a layer and belongs to it: a constant Add after a MatMul
    (its bias) and BatchNormalization nodes (scale and bias), each the only consumer of the tensor."""
    tensor, extra, bias_seen = node.output[0], 0, node.op_type != "MatMul"
    while len(graph.consumers.get(tensor, ())) == 1:
        nxt = graph.consumers[tensor][0]
        if nxt.op_type == "BatchNormalization" and nxt.input[0] == tensor:
            extra += graph.numel(nxt.input[1], nxt) + graph.numel(nxt.input[2], nxt)
        elif nxt.op_type == "Add" and not bias_seen and all(
                name == tensor or name not in graph.dynamic for name in nxt.input):
            extra += sum(graph.numel(name, nxt) for name in nxt.input if name != tensor)
            bias_seen = True
        else:
            break
        tensor = nxt.output[0]
    return extra


def _attr(node, name: str, default):
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            value = onnx.helper.get_attribute_value(attribute)
            return list(value) if isinstance(value, (list, tuple)) else value
    return default


def _label(node) -> str:
    return f"{node.name!r} ({node.op_type})" if node.name else node.op_type


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
