"""quanos_hw.onnx_layers: LayerSpecs read from an ONNX file equal the torch path's, hand-computed
counts of a hand-built graph, the CLI and dse on an ONNX file, and bad input.

Name mapping between an export and the torch model (checked here, documented in docs/design.md
§5): torch.onnx.export names a node by its module scopes, ``/layer1/layer1.0/conv1/op/Conv`` for
the module ``layer1.0.conv1`` (:func:`torch_name`); the dynamo-based exports (Brevitas QCDQ and
QONNX) name nodes ``node_Conv_606``, so there the layers are matched by order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from quanos_hw import create_model, extract_layers
from quanos_hw.cli import main
from quanos_hw.errors import BitConfigError, InputError
from quanos_hw.onnx_layers import layers_from_onnx, read_onnx
from quanos_hw.quantization import set_quantization

COUNTS = ("kind", "macs", "weights", "inputs", "outputs", "padded_inputs", "extra_params", "out_channels",
          "in_channels", "out_height", "out_width", "kernel_height", "kernel_width", "groups",
          "weight_bit_width", "act_bit_width")


def torch_name(onnx_name: str) -> str:
    """``/layer1/layer1.0/conv1/op/Conv`` -> ``layer1.0.conv1``: the scopes before ``op/<OpType>``,
    each either a child of the previous one (``layer1.0`` after ``layer1``) or a new attribute."""
    name = ""
    for scope in onnx_name.strip("/").split("/")[:-2]:
        name = scope if name and scope.startswith(name + ".") else (f"{name}.{scope}" if name else scope)
    return name


def test_torch_name_mapping():
    assert torch_name("/layer1/layer1.0/conv1/op/Conv") == "layer1.0.conv1"
    assert torch_name("/features/features.10/op/Conv") == "features.10"
    assert torch_name("/fc/op/Gemm") == "fc"


def _export(model_name: str, path, fold_batchnorm: bool = False, dynamic_batch: bool = False) -> None:
    """torch.onnx.export (TorchScript) of the float zoo model; BatchNorm kept as a node unless
    ``fold_batchnorm`` (the exporter's eval-mode default folds it into the conv)."""
    model = create_model(model_name, num_classes=10, in_channels=3)
    set_quantization(model, False)
    model.eval()
    mode = torch.onnx.TrainingMode.EVAL if fold_batchnorm else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], training=mode, dynamic_axes={"x": {0: "batch"}} if dynamic_batch else None)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """vgg16 (dynamic batch) and resnet20 exported once; each torch model's layers beside them."""
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, dynamic in (("vgg16", True), ("resnet20", False)):
        path = folder / f"{name}.onnx"
        _export(name, path, dynamic_batch=dynamic)
        out[name] = (path, extract_layers(create_model(name, num_classes=10, in_channels=3), (3, 32, 32)))
    return out


@pytest.mark.parametrize("name, count", [("vgg16", 14), ("resnet20", 20)])
def test_zoo_export_reads_as_the_torch_model(exported, name, count):
    path, expected = exported[name]
    read = read_onnx(path)
    assert read.input_shape == (3, 32, 32) and len(read.layers) == len(expected) == count
    for got, want in zip(read.layers, expected):
        assert torch_name(got.name) == want.name
        assert {k: getattr(got, k) for k in COUNTS} == {k: getattr(want, k) for k in COUNTS}, want.name
        source = got.input_source if got.input_source in (None, "@input") else torch_name(got.input_source)
        assert source == want.input_source, want.name


def test_resnet20_residual_sources_follow_the_first_add_operand(exported):
    """The block output after Add(conv2 branch, shortcut) is conv2's, as in the torch path; the
    shortcut's pads need constant folding before shape inference sees the Add's shape."""
    layers = {torch_name(x.name): x for x in layers_from_onnx(exported["resnet20"][0])}
    assert torch_name(layers["layer2.0.conv1"].input_source) == "layer1.2.conv2"
    assert torch_name(layers["layer3.0.conv1"].input_source) == "layer2.2.conv2"
    assert torch_name(layers["fc"].input_source) == "layer3.2.conv2"
    assert sum(x.macs for x in layers.values()) == 40_551_040  # quanos_hw/models/resnet.py docstring


def test_folded_batchnorm_becomes_the_conv_bias(tmp_path):
    """The exporter's eval-mode default folds BatchNorm into the conv: same counts, but extra
    params are the folded bias (out_channels) instead of BatchNorm's scale and bias (2 x out_channels)."""
    _export("resnet20", tmp_path / "r.onnx", fold_batchnorm=True)
    got = layers_from_onnx(tmp_path / "r.onnx")
    want = extract_layers(create_model("resnet20", num_classes=10, in_channels=3), (3, 32, 32))
    assert [x.macs for x in got] == [x.macs for x in want]
    assert [x.extra_params for x in got[:-1]] == [x.out_channels for x in want[:-1]]
    assert [x.extra_params for x in want[:-1]] == [2 * x.out_channels for x in want[:-1]]


@pytest.mark.parametrize("fmt", ["qcdq", "qonnx"])
def test_brevitas_quantized_exports_read_by_order(tmp_path, fmt):
    """Brevitas QCDQ (weights through QuantizeLinear -> Clip -> DequantizeLinear) and QONNX (Quant
    nodes) exports of the 4-bit small_cnn: the same layers as the torch path, matched by order."""
    from brevitas.export import export_onnx_qcdq, export_qonnx

    from quanos_hw.bitconfig import apply_bit_config
    from quanos_hw.export import _run_quietly

    model = create_model("small_cnn", num_classes=10, in_channels=1)
    apply_bit_config(model, 4)
    model.eval()
    exporter = export_onnx_qcdq if fmt == "qcdq" else export_qonnx
    path = tmp_path / "m.onnx"
    _run_quietly(lambda: exporter(model, args=torch.rand(1, 1, 28, 28), export_path=str(path)))
    got = layers_from_onnx(path, bit_config=4)
    want = extract_layers(model, (1, 28, 28))
    assert [{k: getattr(x, k) for k in COUNTS} for x in got] == [{k: getattr(x, k) for k in COUNTS} for x in want]
    names = [x.name for x in got]
    assert [x.input_source for x in got] == ["@input"] + names[:-1]


# -- a hand-built graph ----------------------------------------------------------------------------

def _init(name, *shape, value=0.5):
    return numpy_helper.from_array(np.full(shape, value, dtype=np.float32), name)


def hand_built(batch="N", height=16, width=16, matmul_name=""):
    """x[N,8,H,W] -> depthwise 3x3 conv (pads 1, bias) -> Relu -> grouped conv (group 4, stride 2,
    SAME_UPPER) -> BatchNormalization -> GlobalAveragePool -> Flatten -> Gemm (transB, weight through
    QuantizeLinear/DequantizeLinear, bias) -> MatMul (weight through Identity, unnamed) -> Add bias."""
    nodes = [
        helper.make_node("Conv", ["x", "w_dw", "b_dw"], ["dw"], name="dw", group=8, kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["dw"], ["dw_relu"], name="relu"),
        helper.make_node("Conv", ["dw_relu", "w_g"], ["g"], name="grouped", group=4, strides=[2, 2],
                         auto_pad="SAME_UPPER"),
        helper.make_node("BatchNormalization", ["g", "bn_s", "bn_b", "bn_m", "bn_v"], ["g_bn"], name="bn"),
        helper.make_node("GlobalAveragePool", ["g_bn"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("QuantizeLinear", ["w_fc", "q_s", "q_z"], ["w_fc_q"], name="wq"),
        helper.make_node("DequantizeLinear", ["w_fc_q", "q_s", "q_z"], ["w_fc_dq"], name="wdq"),
        helper.make_node("Gemm", ["flat", "w_fc_dq", "b_fc"], ["fc"], name="fc", transB=1),
        helper.make_node("Identity", ["w_mm"], ["w_mm_id"], name="wid"),
        helper.make_node("MatMul", ["fc", "w_mm_id"], ["mm"], name=matmul_name),
        helper.make_node("Add", ["mm", "b_mm"], ["y"], name="bias"),
    ]
    inits = [_init("w_dw", 8, 1, 3, 3), _init("b_dw", 8), _init("w_g", 16, 2, 3, 3), _init("bn_s", 16),
             _init("bn_b", 16), _init("bn_m", 16), _init("bn_v", 16, value=1.0), _init("w_fc", 10, 16),
             _init("b_fc", 10),
             numpy_helper.from_array(np.array(0.1, dtype=np.float32), "q_s"),
             numpy_helper.from_array(np.array(0, dtype=np.int8), "q_z"), _init("w_mm", 10, 4), _init("b_mm", 4)]
    graph = helper.make_graph(nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                            [batch, 8, height, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def hand_file(tmp_path):
    path = tmp_path / "hand.onnx"
    onnx.save(hand_built(), str(path))
    return path


def test_hand_built_graph_hand_computed_counts(hand_file):
    layers = layers_from_onnx(hand_file)
    assert [x.name for x in layers] == ["dw", "grouped", "fc", "MatMul_10"]  # unnamed: <OpType>_<node index>
    dw, grouped, fc, mm = (asdict(x) for x in layers)
    # depthwise: 8 x 16 x 16 outputs x (8/8 = 1 channel) x 3 x 3; padded input 8 x 18 x 18; bias 8
    assert dw | {"macs": 18432, "weights": 72, "inputs": 2048, "outputs": 2048, "padded_inputs": 2592,
                 "extra_params": 8, "groups": 8, "input_source": "@input"} == dw
    # grouped: 16 x 8 x 8 outputs x 2 channels per group x 9; SAME_UPPER at stride 2 pads 1 in total per axis
    # (ceil(16/2)-1)*2 + 3 - 16 = 1: 8 x 17 x 17; BatchNorm scale + bias: 32
    assert grouped | {"macs": 18432, "weights": 288, "inputs": 2048, "outputs": 1024, "padded_inputs": 2312,
                      "extra_params": 32, "groups": 4, "input_source": "dw"} == grouped
    # Gemm: 10 outputs x K 16, bias 10, its input through BatchNorm, pool and Flatten
    assert fc | {"macs": 160, "weights": 160, "inputs": 16, "outputs": 10, "extra_params": 10,
                 "input_source": "grouped"} == fc
    # MatMul: 4 outputs x K 10, the Add after it is its bias (4)
    assert mm | {"macs": 40, "weights": 40, "inputs": 10, "outputs": 4, "extra_params": 4, "input_source": "fc"} == mm
    assert [x.loop_dims() for x in layers] == [
        {"K": 1, "C": 1, "OY": 16, "OX": 16, "FY": 3, "FX": 3, "G": 8},
        {"K": 4, "C": 2, "OY": 8, "OX": 8, "FY": 3, "FX": 3, "G": 4},
        {"K": 10, "C": 16, "OY": 1, "OX": 1, "FY": 1, "FX": 1, "G": 1},
        {"K": 4, "C": 10, "OY": 1, "OX": 1, "FY": 1, "FX": 1, "G": 1}]


def test_input_shape_override_and_symbolic_dims(tmp_path, hand_file):
    layers = layers_from_onnx(hand_file, input_shape=(8, 32, 32))
    assert [x.macs for x in layers] == [8 * 32 * 32 * 9, 16 * 16 * 16 * 18, 160, 40]
    onnx.save(hand_built(height="H"), str(tmp_path / "sym.onnx"))
    with pytest.raises(InputError, match=r"symbolic dimension\(s\) \[2\]; give the input shape"):
        layers_from_onnx(tmp_path / "sym.onnx")
    assert layers_from_onnx(tmp_path / "sym.onnx", input_shape=(8, 16, 16)) == layers_from_onnx(hand_file)


def test_bit_config_by_node_name(hand_file):
    config = {name: {"weight_bit_width": w, "act_bit_width": 8}
              for name, w in (("dw", 4), ("grouped", 6), ("fc", 8), ("MatMul_10", 2))}
    layers = layers_from_onnx(hand_file, bit_config=config)
    assert [(x.weight_bit_width, x.act_bit_width) for x in layers] == [(4, 8), (6, 8), (8, 8), (2, 8)]
    assert {x.weight_bit_width for x in layers_from_onnx(hand_file, bit_config=5)} == {5}
    assert {x.weight_bit_width for x in layers_from_onnx(hand_file)} == {16}


def test_the_module_never_imports_torch(hand_file):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from quanos_hw.onnx_layers import layers_from_onnx\n"
            f"layers = layers_from_onnx({str(hand_file)!r}, bit_config=8)\n"
            "print(len(layers), sum(x.macs for x in layers))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["4", str(18432 + 18432 + 160 + 40)]


# -- the CLI and dse -------------------------------------------------------------------------------

def test_cli_estimate_of_an_export_equals_the_zoo_model(exported, capsys, tmp_path):
    path = exported["resnet20"][0]
    assert main(["estimate", "--model", str(path), "--bits", "8", "--json"]) == 0
    from_onnx = json.loads(capsys.readouterr().out)
    assert main(["estimate", "--model", "resnet20", "--dataset", "cifar10", "--bits", "8", "--json"]) == 0
    from_zoo = json.loads(capsys.readouterr().out)
    assert from_onnx["totals"] == from_zoo["totals"] and from_onnx["totals"]["macs"] == 40_551_040
    assert from_onnx["input_shape"] == [3, 32, 32] and from_onnx["model"] == str(path)
    strip = [{k: v for k, v in r.items() if k != "name"} for r in from_onnx["layers"]]
    assert strip == [{k: v for k, v in r.items() if k != "name"} for r in from_zoo["layers"]]
    assert main(["estimate", "--model", str(path), "--input-shape", "3,64,64", "--bits", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["macs"] == 4 * 40_551_040 - 3 * 640  # the classifier stays


def test_dse_workloads_from_an_onnx_file(hand_file, tmp_path):
    from quanos_hw.dse import load_workloads

    (workload,) = load_workloads(f"{hand_file}@8")
    assert workload.name == f"{hand_file}@8" and [x.macs for x in workload.layers] == [18432, 18432, 160, 40]
    assert {x.weight_bit_width for x in workload.layers} == {8}
    bits = tmp_path / "bits.json"
    bits.write_text(json.dumps({n: {"weight_bit_width": 4, "act_bit_width": 6}
                                for n in ("dw", "grouped", "fc", "MatMul_10")}))
    (workload,) = load_workloads(f"{hand_file}:{bits}")
    assert {(x.weight_bit_width, x.act_bit_width) for x in workload.layers} == {(4, 6)}


# -- bad input -------------------------------------------------------------------------------------

def _unsupported(tmp_path):
    """x -> ConvTranspose (deconv) -> Flatten -> MatMul of it with its transpose (self_mm) -> Einsum (mix)."""
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["d"], name="deconv"),
             helper.make_node("Flatten", ["d"], ["f"]),
             helper.make_node("Transpose", ["f"], ["f_t"]),
             helper.make_node("MatMul", ["f", "f_t"], ["m"], name="self_mm"),
             helper.make_node("Einsum", ["m"], ["y"], name="mix", equation="ij->ij")]
    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [_init("w", 2, 2, 3, 3)])
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _hand(tmp_path):
    path = tmp_path / "h.onnx"
    onnx.save(hand_built(), str(path))
    return path


def _two_inputs(tmp_path):
    model = hand_built()
    model.graph.input.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 8]))
    path = tmp_path / "two.onnx"
    onnx.save(model, str(path))
    return path


def _batch_4(tmp_path):
    path = tmp_path / "b4.onnx"
    onnx.save(hand_built(batch=4), str(path))
    return path


def _text(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model\n")
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("make, kwargs, exc, message", [
    (_text, {}, InputError, "is not an ONNX model (not a serialized ModelProto)"),
    (_empty, {}, InputError, "is not an ONNX model"),
    (lambda tmp: tmp / "none.onnx", {}, InputError, "does not exist or is not a regular file"),
    (_unsupported, {}, InputError, "unsupported ONNX compute op(s): ConvTranspose (deconv); MatMul of two "
                                   "activations (self_mm); Einsum (mix)"),
    (_two_inputs, {}, InputError, "has 2 inputs (x, mask); one input is supported"),
    (_batch_4, {}, InputError, "has a fixed batch of 4; export it with batch 1 or a dynamic batch"),
    (_hand, {"input_shape": (8, 16)}, InputError, "input shape (8, 16) must be 3 positive integers"),
    (_hand, {"bit_config": {"dw": {"weight_bit_width": 8, "act_bit_width": 8},
                            "conv9": {"weight_bit_width": 8, "act_bit_width": 8}}},
     BitConfigError, "bit configuration names unknown layer(s) ['conv9']"),
    (_hand, {"bit_config": 1}, BitConfigError, "must be between 2 and 16, got 1"),
], ids=["text", "empty", "missing", "unsupported", "two-inputs", "batch-4", "shape-rank", "unknown-node",
        "bits-1"])
def test_bad_input(tmp_path, make, kwargs, exc, message):
    with pytest.raises(exc) as info:
        layers_from_onnx(make(tmp_path), **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("args, message", [
    (["--bits", "8", "--num-classes", "100"], "--num-classes cannot be used with an ONNX model"),
    (["--bit-config", "{bits}"], "bit configuration names unknown layer(s) ['conv9']"),
])
def test_cli_bad_input(hand_file, tmp_path, capsys, args, message):
    bits = tmp_path / "bits.json"
    bits.write_text(json.dumps({"conv9": {"weight_bit_width": 8, "act_bit_width": 8}}))
    args = [a.replace("{bits}", str(bits)) for a in args]
    assert main(["estimate", "--model", str(hand_file), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("quanos: error: ") and message in err and err.count("\n") == 1


def test_a_registered_model_still_needs_an_input_shape(capsys):
    assert main(["estimate", "--model", "vgg16", "--bits", "8"]) == 2
    assert "one of the arguments --dataset --input-shape is required" in capsys.readouterr().err
