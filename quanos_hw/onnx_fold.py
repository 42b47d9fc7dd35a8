"""Constant folding of the integer tensors that decide an ONNX graph's shapes (pads, reshape
targets, slice bounds), so ONNX shape inference can see through them.

ONNX shape inference propagates constant values only through a few ops: a shape computed by a
longer chain (torch.onnx.export's ``F.pad`` builds its pads from ConstantOfShape, Concat,
Reshape, a reversing Slice, Transpose and Cast) leaves everything after it with unknown
dimensions. Here every integer tensor that feeds a node on the activation path, does not itself
depend on the activations and is not already a constant is evaluated with the ONNX reference
evaluator (``onnx.reference``, NumPy) on the small sub-graph that computes it: its ancestors up
to initializers, ``Constant`` nodes and ``Shape``/``Size`` of tensors whose shape inference
already knows. The value becomes an initializer that the consumers read instead.
"""

from __future__ import annotations

#: ops whose outputs describe a tensor, not its values: never activations
METADATA_OPS = frozenset({"Shape", "Size"})
#: TensorProto element types folded here (the integer types shapes, pads and indices use)
_INTEGER_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})  # UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64
#: most elements of a folded tensor (shape-like tensors are short)
_MAX_ELEMENTS = 4096


def dynamic_tensors(graph, input_name: str) -> set[str]:
    """Names of the tensors whose values depend on the graph input (not through Shape/Size)."""
    dynamic = {input_name}
    for node in graph.node:
        if node.op_type not in METADATA_OPS and any(name in dynamic for name in node.input):
            dynamic |= set(node.output)
    return dynamic


def fold_integer_constants(model, input_name: str) -> bool:
    """Fold, in place, the integer constant inputs of activation-path nodes of an inferred
    ``model``; True when anything was folded (infer the shapes again then)."""
    import onnx.numpy_helper

    graph = model.graph
    types, shapes = _value_info(graph)
    dynamic = dynamic_tensors(graph, input_name)
    known = {t.name for t in graph.initializer} | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    targets = sorted({name for node in graph.node if any(i in dynamic for i in node.input) for name in node.input
                      if name and name not in dynamic and name not in known and types.get(name) in _INTEGER_TYPES})
    values = {}
    for target in targets:
        value = _evaluate(model, target, shapes)
        if value is not None and value.size <= _MAX_ELEMENTS:
            values[target] = value
    for name, value in values.items():
        graph.initializer.append(onnx.numpy_helper.from_array(value, f"{name}__folded"))
        for node in graph.node:
            for i, used in enumerate(node.input):
                if used == name:
                    node.input[i] = f"{name}__folded"
    return bool(values)


def _value_info(graph) -> tuple[dict[str, int], dict[str, tuple[int, ...] | None]]:
    """Element type and (fully known) shape of every tensor shape inference described."""
    types, shapes = {}, {}
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        tensor = value.type.tensor_type
        types[value.name] = tensor.elem_type
        dims = tensor.shape.dim if tensor.HasField("shape") else None
        shapes[value.name] = None if dims is None or not all(d.HasField("dim_value") for d in dims) else \
            tuple(d.dim_value for d in dims)
    return types, shapes


def _evaluate(model, target: str, shapes: dict):
    """The value of ``target`` from its constant ancestors, or None when it cannot be computed."""
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    initializers = {t.name: t for t in graph.initializer}
    nodes, needed, stack, seen = [], [], [target], set()
    while stack:
        name = stack.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        if name in initializers:
            needed.append(initializers[name])
            continue
        node = producer.get(name)
        if node is None:
            return None  # a graph input
        if node.op_type in METADATA_OPS:
            shape = shapes.get(node.input[0])
            if shape is None:
                return None
            value = _metadata_value(node, shape)
            nodes.append(onnx.helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(value)))
            continue
        nodes.append(node)
        stack.extend(node.input)
    order = {id(node): i for i, node in enumerate(graph.node)}
    nodes.sort(key=lambda node: order.get(id(node), -1))  # new Constant nodes first, then graph order
    sub = onnx.helper.make_graph(nodes, "fold", [], [onnx.helper.make_empty_tensor_value_info(target)], needed)
    try:
        evaluator = ReferenceEvaluator(onnx.helper.make_model(sub, opset_imports=model.opset_import))
        return np.asarray(evaluator.run(None, {})[0])
    except Exception:  # noqa: BLE001 - an op the reference evaluator cannot run: leave the tensor as it is
        return None


def _metadata_value(node, shape: tuple[int, ...]):
    """The value of ``Shape`` (with its start/end attributes) or ``Size`` of a known shape."""
    import math

    import numpy as np

    if node.op_type == "Size":
        return np.asarray(math.prod(shape), dtype=np.int64)
    attrs = {a.name: a.i for a in node.attribute}
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return np.asarray(shape[start:end], dtype=np.int64)
