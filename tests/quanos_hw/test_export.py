import math

import numpy as np
import pytest
import torch
from torch import nn

import quanos_hw.export as export_mod
from quanos_hw import create_model
from quanos_hw.bitconfig import apply_bit_config
from quanos_hw.checkpoint import save_checkpoint
from quanos_hw.cli import main
from quanos_hw.data import load_dataset
from quanos_hw.errors import CheckpointError, DiskFullError, InputError
from quanos_hw.export import export_model, model_from_checkpoint
from quanos_hw.quantization import calibrate_activations, set_quantization
from quanos_hw.training import TrainConfig, train

onnx = pytest.importorskip("onnx")

MIXED = {"features.0": (8, 6), "features.1": (4, 4), "features.3": (3, 5), "features.5": (6, 2), "classifier": (7, 8)}


def _constants(model):
    values = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = onnx.numpy_helper.to_array(node.attribute[0].t)
    return values


def _layer(name: str) -> tuple[str, str]:
    """('features.1', 'weight'|'act') from a Brevitas export tensor name."""
    head = name.split(".export_handler")[0]
    layer, _, kind = head.rpartition(".")  # ... .op.weight_quant / ... .act.act_quant
    return layer.rsplit(".", 1)[0], "weight" if kind == "weight_quant" else "act"


def _qcdq_bits(model) -> dict:
    """Bits of every QuantizeLinear: from the Clip that follows it, else from its 8-bit container."""
    values = _constants(model)
    clip_after = {n.input[0]: n for n in model.graph.node if n.op_type == "Clip"}
    found = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear":
            continue
        layer, kind = _layer(node.input[1])
        clip = clip_after.get(node.output[0])
        if clip is None:
            assert values[node.input[2]].dtype.itemsize == 1  # int8 / uint8 zero point: the full 8 bits
            found[(layer, kind)] = 8
            continue
        lo, hi = float(values[clip.input[1]]), float(values[clip.input[2]])
        bits = math.log2(hi + 1) if lo == 0 else (math.log2(hi + 1) + 1)  # unsigned, or signed (narrow or not)
        found[(layer, kind)] = int(round(bits))
    return found


def _assert_takes_any_batch(model, input_shape, num_classes=10):
    """One graph input, the image; weights and quantizer constants are initializers only; the batch
    dimension of the input and the output is symbolic, the others fixed."""
    graph = model.graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["logits"]
    assert len(graph.initializer) > 10  # the constants are there, as initializers
    for value, fixed in ((graph.input[0], list(input_shape)), (graph.output[0], [num_classes])):
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch" and dims[0].dim_value == 0
        assert [d.dim_value for d in dims[1:]] == fixed


def _mixed_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create_model("small_cnn", in_channels=1)
    apply_bit_config(model, {n: {"weight_bit_width": w, "act_bit_width": a} for n, (w, a) in MIXED.items()})
    calibrate_activations(model, [torch.rand(8, 1, 28, 28)])
    path = tmp_path / "mixed.pt"
    save_checkpoint(path, model=model, config_hash="x", epoch=1,
                    meta={"model": "small_cnn", "num_classes": 10, "in_channels": 1, "input_shape": [1, 28, 28],
                          "weight_scaling": "per_channel", "quantized": True})
    return path


def test_qcdq_export_carries_every_layers_bit_widths(tmp_path):
    out = tmp_path / "m.onnx"
    result = export_model(_mixed_checkpoint(tmp_path), out, "onnx")
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert {o.domain for o in model.opset_import} == {""}  # standard operators only
    found = _qcdq_bits(model)
    for name, (w, a) in MIXED.items():
        assert found[(name, "weight")] == w and found[(name, "act")] == a
    assert result.bits["features.3"] == {"weight_bit_width": 3, "act_bit_width": 5}
    _assert_takes_any_batch(model, (1, 28, 28))


def test_qonnx_export_of_a_hybrid_run_checkpoint(fast_run, tmp_path):
    out = tmp_path / "q.onnx"
    ckpt = fast_run.out_dir / "checkpoints" / "quanos_1.pt"
    assert main(["export", "--checkpoint", str(ckpt), "--format", "qonnx", "--out", str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    values = _constants(model)
    quant = [n for n in model.graph.node if n.op_type == "Quant"]
    found = {_layer(n.input[1]): int(values[n.input[3]]) for n in quant}
    for name, bits in fast_run.report["bits"].items():
        assert found[(name, "weight")] == bits["weight_bit_width"]
        assert found[(name, "act")] == bits["act_bit_width"]
    _assert_takes_any_batch(model, fast_run.report["dataset"]["input_shape"])


def test_export_errors(fast_run, tmp_path):
    ckpt = fast_run.out_dir / "checkpoints"
    with pytest.raises(InputError, match="holds a float model"):
        export_model(ckpt / "float32.pt", tmp_path / "f.onnx")
    wide = max(max(v.values()) for v in fast_run.report["bits"].values())
    if wide > 8:
        with pytest.raises(InputError, match="use --format qonnx"):
            export_model(ckpt / "quanos_1.pt", tmp_path / "w.onnx", "onnx")
    with pytest.raises(InputError, match="unknown export format"):
        export_model(ckpt / "uniform8.pt", tmp_path / "x.onnx", "tflite")
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, model=create_model("small_cnn", in_channels=1), config_hash="x", epoch=0)
    with pytest.raises(CheckpointError, match="does not describe its model"):
        export_model(bare, tmp_path / "b.onnx")
    assert not list(tmp_path.glob("*.onnx"))


@pytest.fixture(scope="module")
def small_cnn_uniform8(fast_run):
    """The fast run's uniform 8-bit small_cnn, its test split and the report's clean accuracy of it."""
    c = fast_run.report["config"]
    data = load_dataset("synthetic", n_train=c["synthetic_train"], n_test=c["synthetic_test"],
                        split_seed=c["split_seed"])
    clean = fast_run.report["models"]["uniform8"]["test_accuracy_after_training"]
    return fast_run.out_dir / "checkpoints" / "uniform8.pt", data.test, clean


@pytest.fixture(scope="module")
def resnet20_uniform8(tmp_path_factory):
    """resnet20 trained 2 float epochs on 256 synthetic 3x8x8 images (about 5 s), BatchNorm statistics
    re-estimated over the training set (20 steps leave them far from the weights'), then uniform 8-bit."""
    torch.manual_seed(0)
    data = load_dataset("synthetic", n_train=256, n_test=64, image_shape=(3, 8, 8))
    model = create_model("resnet20", in_channels=3, quantize=False)
    train(model, data.train, TrainConfig(epochs=2, batch_size=32, lr=0.05), progress=False)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the pass below
    with torch.no_grad():
        model.train()(data.train.images)
    apply_bit_config(model.eval(), 8)
    set_quantization(model, True)
    calibrate_activations(model, [data.train.images[:128]])
    path = tmp_path_factory.mktemp("resnet20") / "uniform8.pt"
    save_checkpoint(path, model=model, config_hash="x", epoch=2,
                    meta={"model": "resnet20", "num_classes": 10, "in_channels": 3, "input_shape": [3, 8, 8],
                          "weight_scaling": "per_channel", "quantized": True})
    return path, data.test, None


def _ort_session(ort, model_bytes, capfd):
    """An ONNX Runtime session as a user opens one, and what ONNX Runtime wrote to stderr meanwhile."""
    capfd.readouterr()
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session, capfd.readouterr().err


@pytest.mark.parametrize("zoo_model", ["small_cnn_uniform8", "resnet20_uniform8"])
def test_qcdq_export_runs_in_onnx_runtime_on_a_batch_as_the_torch_model(zoo_model, request, tmp_path, capfd):
    ort = pytest.importorskip("onnxruntime")
    ckpt, test, clean = request.getfixturevalue(zoo_model)
    out = tmp_path / "m.onnx"
    export_model(ckpt, out, "onnx")
    model = onnx.load(str(out))
    _assert_takes_any_batch(model, test.images.shape[1:])
    session, err = _ort_session(ort, out.read_bytes(), capfd)
    assert "onnxruntime" not in err  # no warning at all, in particular none about initializers among inputs

    torch_model = model_from_checkpoint(ckpt)[0]
    images = test.images[:64]
    with torch.no_grad():
        expected = torch_model(images).numpy()
    logits = session.run(None, {"image": images.numpy()})[0]
    assert logits.shape == (64, 10)
    assert len(set(expected.argmax(1))) >= 5  # varied predictions: their equality below means something
    assert (logits.argmax(1) == expected.argmax(1)).all()
    # the logits are 8-bit quantized: equal, or (a rounding upstream gone the other way) one output step apart
    last = model.graph.node[-1]
    assert last.op_type == "DequantizeLinear" and last.output[0] == "logits"
    step = float(_constants(model)[last.input[1]])
    differ = np.abs(logits - expected)
    assert differ.max() <= 1.001 * step and (differ < 1e-4).mean() >= 0.98
    if clean is not None:  # the whole test split in one batch: the report's clean accuracy exactly
        predicted = session.run(None, {"image": test.images.numpy()})[0].argmax(1)
        correct = int((predicted == test.labels.numpy()).sum())
        assert len(test) != 64 and correct == round(clean * len(test))  # the report holds a float32 mean

    # the capture sees ONNX Runtime's warnings: the same model with its constants also listed as inputs
    model.graph.input.extend(onnx.helper.make_tensor_value_info(i.name, i.data_type, i.dims)
                             for i in model.graph.initializer)
    assert "appears in graph inputs and will not be treated as constant" in _ort_session(
        ort, model.SerializeToString(), capfd)[1]


def test_qonnx_export_of_resnet20_takes_any_batch(resnet20_uniform8, tmp_path):
    out = tmp_path / "q.onnx"
    export_model(resnet20_uniform8[0], out, "qonnx")
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert any(n.op_type == "Quant" for n in model.graph.node)
    _assert_takes_any_batch(model, (3, 8, 8))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return _mixed_checkpoint(tmp_path_factory.mktemp("ckpt"))


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_export_leaves_only_its_output_and_replaces_a_previous_export(checkpoint, tmp_path):
    out = tmp_path / "sub" / "m.onnx"
    export_model(checkpoint, out, "onnx")
    assert _listing(tmp_path) == ["sub", "sub/m.onnx"]  # no hidden .m.onnx.partial.data beside it
    first = out.read_bytes()
    export_model(checkpoint, out, "qonnx")  # a previous export may be replaced
    assert _listing(tmp_path) == ["sub", "sub/m.onnx"]
    assert out.read_bytes() != first
    assert any(n.op_type == "Quant" for n in onnx.load(str(out)).graph.node)


def _same_file(tmp, ckpt):
    return tmp / "mixed.pt"


def _symlink(tmp, ckpt):
    (tmp / "link.pt").symlink_to(ckpt)
    return tmp / "link.pt"


def _hard_link(tmp, ckpt):
    (tmp / "hard.pt").hardlink_to(ckpt)
    return tmp / "hard.pt"


def _directory(tmp, ckpt):
    (tmp / "exports").mkdir()
    return tmp / "exports"


def _notes(tmp, ckpt):
    (tmp / "notes.onnx").write_text("my notes\n")
    return tmp / "notes.onnx"


def _other_checkpoint(tmp, ckpt):
    (tmp / "other.onnx").write_bytes(ckpt.read_bytes())  # a checkpoint renamed .onnx: not an ONNX model
    return tmp / "other.onnx"


def _parent_is_a_file(tmp, ckpt):
    (tmp / "afile").write_text("x")
    return tmp / "afile" / "m.onnx"


@pytest.mark.parametrize("make, message", [
    (_same_file, "is the checkpoint being exported"),
    (_symlink, "is the checkpoint being exported"),
    (_hard_link, "is the checkpoint being exported"),
    (_directory, "is a directory; give a file name such as"),
    (_notes, "exists and is not an ONNX model; refusing to overwrite it"),
    (_other_checkpoint, "exists and is not an ONNX model; refusing to overwrite it"),
    (_parent_is_a_file, "cannot be written: a folder on its path is a file"),
    (lambda tmp, ckpt: "", "export output path is empty"),
    (lambda tmp, ckpt: "/dev/null", "exists and is not a regular file"),
])
def test_export_refuses_an_output_that_would_lose_a_file(checkpoint, tmp_path, make, message):
    ckpt = tmp_path / "mixed.pt"
    ckpt.write_bytes(checkpoint.read_bytes())
    out = make(tmp_path, ckpt)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match=message):
        export_model(ckpt, out, "onnx")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_checkpoint_named_onnx_is_not_overwritten_by_the_default_output(checkpoint, tmp_path, capsys):
    ckpt = tmp_path / "model.onnx"
    ckpt.write_bytes(checkpoint.read_bytes())
    assert main(["export", "--checkpoint", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err == (f"quanos: error: export output {str(ckpt)!r} is the checkpoint being exported ({str(ckpt)!r}); "
                   "choose another --out\n")
    assert ckpt.read_bytes() == checkpoint.read_bytes() and _listing(tmp_path) == ["model.onnx"]


@pytest.mark.parametrize("error, expected", [
    (RuntimeError("exporter crashed"), RuntimeError),
    (OSError(__import__("errno").ENOSPC, "No space left on device"), DiskFullError),
])
def test_a_failed_export_leaves_nothing_behind(checkpoint, tmp_path, monkeypatch, error, expected):
    def fail(export):
        export()  # the exporter writes its files (model and external data) into the private folder
        raise error

    monkeypatch.setattr(export_mod, "_run_quietly", fail)
    out = tmp_path / "m.onnx"
    with pytest.raises(expected) as info:
        export_model(checkpoint, out, "onnx")
    if expected is DiskFullError:
        assert str(info.value).startswith(f"no space left on the device while writing {str(out)!r}")
    assert _listing(tmp_path) == []


def test_an_unwritable_output_folder_is_one_clear_error(checkpoint, tmp_path, monkeypatch):
    def denied(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export_mod.tempfile, "mkdtemp", denied)
    with pytest.raises(InputError, match=r"^cannot write export output '.*m\.onnx': Permission denied$"):
        export_model(checkpoint, tmp_path / "m.onnx", "onnx")
    assert _listing(tmp_path) == []


def test_an_export_that_ignored_the_batch_and_initializer_options_is_refused(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod, "_EXPORT_OPTIONS", {})  # Brevitas' defaults: a fixed batch, constants as inputs
    fixed_batch_and_constants_as_inputs = r"^the exporter ignored the export options: \d\d graph input\(s\) \['x', .*" \
                                          r"batch dimensions \['', ''\]"
    with pytest.raises(RuntimeError, match=fixed_batch_and_constants_as_inputs):
        export_model(checkpoint, tmp_path / "m.onnx", "onnx")
    assert _listing(tmp_path) == []
