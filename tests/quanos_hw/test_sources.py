"""Model sources (quanos_hw/models/sources.py), pretrained weights (quanos_hw/models/weights.py),
the config key and CLI flags that take them, and ``quanos_hw.run`` on your own objects."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
import torch
from torch import nn

from quanos_hw import create_model, evaluate, extract_layers
from quanos_hw.errors import ConfigError, DatasetError, InputError, ModelError
from quanos_hw.layers import quant_layers
from quanos_hw.models.sources import ModelSource, parse_source

FACTORIES = """
    import torch
    from torch import nn

    def make(num_classes, in_channels=1, width=6, flag=False):
        net = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))
        net.flag = flag
        return net

    class Net(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4, num_classes)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).mean((2, 3)))

    def boom(num_classes):
        raise ValueError("no such width\\nsecond line")

    def number():
        return 42
"""


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "mynets.py"
    path.write_text(textwrap.dedent(FACTORIES))
    return path


@pytest.mark.parametrize("spec, expected", [
    ("torchvision:resnet18", ModelSource("torchvision:resnet18", "torchvision", "resnet18", None)),
    ("torchvision:mobilenet_v2?width_mult=0.5&dropout=0.1&name=x&b=TRUE&n=none&k=3",
     ModelSource("torchvision:mobilenet_v2?width_mult=0.5&dropout=0.1&name=x&b=TRUE&n=none&k=3", "torchvision",
                 "mobilenet_v2", None, (("width_mult", 0.5), ("dropout", 0.1), ("name", "x"), ("b", True),
                                        ("n", None), ("k", 3)))),
    ("pkg.nets:Outer.make", ModelSource("pkg.nets:Outer.make", "module", "pkg.nets", "Outer.make")),
    ("dir/sub/nets.py:make?width=8", ModelSource("dir/sub/nets.py:make?width=8", "file", "dir/sub/nets.py", "make",
                                                 (("width", 8),))),
    ("__main__:f.<locals>.Tiny", ModelSource("__main__:f.<locals>.Tiny", "module", "__main__", "f.<locals>.Tiny")),
])
def test_parse_source(spec, expected):
    assert parse_source(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("torchvision:resnet181", "unknown torchvision model 'resnet181'; did you mean 'resnet18'?"),
    ("torchvision:resnet18?weights=IMAGENET1K_V1", "torchvision weights are never downloaded"),
    ("torchvision:resnet18?num_classes=5", "num_classes comes from the data"),
    ("torchvision:resnet18?width", "must be name=value pairs joined by '&', got 'width'"),
    ("torchvision:resnet18?a=1&a=2", "keyword argument 'a' is given twice"),
    ("torchvision:", "expected torchvision:NAME"),
    ("my nets:make", "'my nets' is neither a module path (package.module) nor a .py file"),
    ("nets:", "is not torchvision:NAME, package.module:factory or path/file.py:factory"),
    ("{tmp}/none.py:make", "none.py' does not exist"),
    ("no_such_module_qz.nets:make", "cannot import module 'no_such_module_qz.nets' (ModuleNotFoundError: No module"),
    ("{nets}:mak", "has no attribute 'mak'; did you mean 'make'?"),
    ("{nets}:boom", "boom raised ValueError: no such width"),
    ("{nets}:number", "number returned int, not a torch.nn.Module"),
    ("{bad}:make", "raised SyntaxError"),
])
def test_bad_sources_are_one_clear_line(spec, message, nets, tmp_path):
    (tmp_path / "bad.py").write_text("def make(:\n")
    spec = spec.format(tmp=tmp_path, nets=nets, bad=tmp_path / "bad.py")
    with pytest.raises(ModelError, match=re.escape(message)) as info:
        create_model(spec, num_classes=10, in_channels=1)
    assert "\n" not in str(info.value)


def test_a_file_factory_gets_num_classes_in_channels_and_the_spec_keywords(nets):
    model = create_model(f"{nets}:make?width=5&flag=true", num_classes=7, in_channels=2)
    assert sorted(p.name for p in nets.parent.iterdir()) == ["mynets.py"]  # no __pycache__ written beside it
    assert model.net.flag is True
    assert list(quant_layers(model)) == ["net.0", "net.5"]
    assert (model.net[0].op.in_channels, model.net[0].op.out_channels, model.net[5].op.out_features) == (2, 5, 7)


def test_a_module_path_class_factory_is_imported_the_standard_way(nets, monkeypatch):
    monkeypatch.syspath_prepend(str(nets.parent))
    model = create_model("mynets:Net", num_classes=3, in_channels=1)
    assert list(quant_layers(model)) == ["net.conv", "net.fc"] and model.net.fc.op.out_features == 3


def test_torchvision_keywords_and_input_channels():
    model = create_model("torchvision:mobilenet_v2?width_mult=0.5&dropout=0.3", num_classes=4, in_channels=1)
    first = model.net.features[0][0]
    assert (first.op.in_channels, first.op.out_channels) == (1, 16)  # 32 * 0.5 channels, the first conv replaced
    assert model.net.classifier[0].p == 0.3 and model.net.classifier[1].op.out_features == 4
    assert extract_layers(model, (1, 32, 32))[0].in_channels == 1


def test_resnet18_at_224_has_the_textbook_mac_count():
    layers = extract_layers(create_model("torchvision:resnet18", num_classes=1000), (3, 224, 224))
    assert sum(s.macs for s in layers) == 1_814_073_344
    assert len(layers) == 21 and all(s.input_source is None for s in layers)


def _independent_macs(net: nn.Module, shape: tuple[int, ...]) -> dict[str, int]:
    """MACs of every conv and linear module of the float network from its shapes and output sizes."""
    counts: dict[str, int] = {}

    def hook(name):
        def record(module, args, out):
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                counts[name] = out.numel() * module.in_channels // module.groups * kh * kw
            else:
                counts[name] = out.numel() * module.in_features
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in net.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *shape))
    for handle in handles:
        handle.remove()
    return counts


@pytest.mark.parametrize("name, weights, total", [
    ("squeezenet1_0", "SqueezeNet1_0_Weights", 818_924_576),
    ("mobilenet_v3_small", "MobileNet_V3_Small_Weights", 56_510_400),  # depthwise convs, squeeze-excitation
])
def test_macs_of_torchvision_families_against_an_independent_count(name, weights, total):
    from torchvision import models

    torch.manual_seed(0)
    independent = _independent_macs(models.get_model(name, weights=None), (3, 224, 224))
    layers = extract_layers(create_model(f"torchvision:{name}", num_classes=1000), (3, 224, 224))
    assert {s.name: s.macs for s in layers} == {f"net.{n}": v for n, v in independent.items()}
    assert sum(independent.values()) == total
    ops = getattr(models, weights).IMAGENET1K_V1.meta["_ops"]  # torchvision's published GMACs, 3 decimals
    assert abs(total / 1e9 - ops) <= 0.0005


def test_cli_estimate_of_a_torchvision_model(capsys):
    from quanos_hw.cli import main

    code = main(["estimate", "--model", "torchvision:mobilenet_v2", "--input-shape", "3,224,224", "--bits", "8",
                 "--num-classes", "1000", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)
    assert report["model"] == "torchvision:mobilenet_v2"
    assert report["totals"]["macs"] == 300_774_272  # MobileNetV2 1.0 at 224: 300M multiply-adds
    assert report["layers"][0]["name"] == "net.features.0.0" and len(report["layers"]) == 53


# -- weights --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic():
    from quanos_hw.data import load_dataset

    return load_dataset("synthetic", n_train=200, n_test=100)


def test_weights_of_a_trained_network_give_the_same_clean_accuracy(nets, synthetic, tmp_path):
    """Train the converted network (float) 1 epoch, save its float state_dict, load it with
    weights=...: the same logits and clean accuracy; config key weights reaches every phase's model."""
    from quanos_hw import TrainConfig, train
    from quanos_hw.pipeline.config import RunConfig
    from quanos_hw.pipeline.experiment import Runner

    spec, d = f"{nets}:make", synthetic
    torch.manual_seed(0)
    trained = create_model(spec, num_classes=10, in_channels=1, quantize=False, mean=d.mean, std=d.std)
    train(trained, d.train, TrainConfig(epochs=1, batch_size=50, lr=0.1), progress=False)
    torch.save(trained.float_state_dict(), tmp_path / "w.pt")
    torch.manual_seed(1)
    loaded = create_model(spec, num_classes=10, in_channels=1, quantize=False, mean=d.mean, std=d.std,
                          weights=tmp_path / "w.pt")
    fresh = create_model(spec, num_classes=10, in_channels=1, quantize=False, mean=d.mean, std=d.std)
    x = d.test.images
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), trained.eval()(x))
        assert not torch.allclose(fresh.eval()(x), trained(x))
    assert evaluate(loaded, d.test) == evaluate(trained, d.test) > 0.1
    runner = Runner(RunConfig(model=spec, weights=str(tmp_path / "w.pt")), d, None, torch.device("cpu"), False, print)
    with torch.no_grad():
        assert torch.equal(runner.new_model(seed=5).eval()(x), trained(x))


def test_weights_of_a_zoo_model_load_into_the_zoo_model(tmp_path):
    zoo = create_model("small_cnn", in_channels=1, bit_config=5)
    torch.save(zoo.state_dict(), tmp_path / "z.pt")
    again = create_model("small_cnn", in_channels=1, weights=tmp_path / "z.pt", bit_config=5)
    x = torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        assert torch.equal(again.eval()(x), zoo.eval()(x))


@pytest.mark.parametrize("content, message", [
    (lambda: nn.Linear(6, 10).state_dict(),
     "does not fit model '{spec}': missing 0.weight, 0.bias, 1.weight (+5 more); unexpected weight, bias"),
    (lambda: {**nn.Sequential(nn.Conv2d(1, 7, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Identity(), nn.Identity(),
                                nn.Linear(6, 10)).state_dict()},
     "shape mismatch 0.weight (7, 1, 3, 3) in the file, (6, 1, 3, 3) in the model, 0.bias (7,) in the file, (6,) "
     "in the model"),
    (lambda: [torch.zeros(2)], "is not a state_dict (a mapping of names to tensors"),
    (None, "does not exist"),
])
def test_weights_that_do_not_fit_are_one_clear_line(content, message, nets, tmp_path):
    spec = f"{nets}:make"
    if content is not None:
        torch.save(content(), tmp_path / "w.pt")
    with pytest.raises(ModelError, match=re.escape(message.format(spec=spec))) as info:
        create_model(spec, num_classes=10, in_channels=1, weights=tmp_path / "w.pt")
    assert "\n" not in str(info.value)


def test_weights_holding_python_objects_are_never_unpickled(nets, tmp_path):
    torch.save({"0.weight": torch.zeros(1), "x": _Evil()}, tmp_path / "w.pt")
    with pytest.raises(ModelError, match="contains arbitrary Python objects, which are never loaded"):
        create_model(f"{nets}:make", num_classes=10, in_channels=1, weights=tmp_path / "w.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("executed!",))


# -- configuration --------------------------------------------------------------------------------

def test_config_accepts_sources_and_checks_them_without_building(nets, tmp_path):
    from quanos_hw.pipeline.config import RunConfig

    assert RunConfig(model="torchvision:resnet18?zero_init_residual=true").model.startswith("torchvision:")
    assert RunConfig(model="some.module.never.imported:make").model  # parsed only: prepare() imports it
    with pytest.raises(ConfigError, match=re.escape("config key 'model': unknown torchvision model 'resnt18'; "
                                                    "did you mean 'resnet18'?")):
        RunConfig(model="torchvision:resnt18")
    with pytest.raises(ConfigError, match="config key 'weights': file .* does not exist"):
        RunConfig(weights=str(tmp_path / "none.pt"))
    torch.save({}, tmp_path / "w.pt")
    assert RunConfig(weights=str(tmp_path / "w.pt")).hash() != RunConfig().hash()
    # unset, 'weights' is not hashed; the pin changed once, when the worst-case suite joined the default
    # evaluation (config key 'robustness'): a workspace from before it is refused on --resume, naming the key
    assert RunConfig().hash() == "ca66083b0c39e6cf"


def test_a_run_refuses_a_model_whose_outputs_do_not_match_the_classes(nets, tmp_path):
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import RunConfig

    config = RunConfig(model=f"{nets}:number", dataset="synthetic", out_dir=str(tmp_path / "out"))
    with pytest.raises(ModelError, match="number returned int"):
        run(config, progress=False, log=lambda m: None)
    nets.write_text(nets.read_text() + "\n\ndef wide():\n    return Net(num_classes=12)\n")  # imported again
    config = RunConfig(model=f"{nets}:wide", dataset="synthetic", out_dir=str(tmp_path / "out2"))
    with pytest.raises(ModelError, match=re.escape("gives outputs of shape (2, 12) for 2 inputs; the data has 10")):
        run(config, progress=False, log=lambda m: None)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


# -- the Python API on your own objects -----------------------------------------------------------

class Tiny(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 5 * 5, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(model=3), InputError, "model must be a name, a source string or a torch.nn.Module, got int"),
    (dict(train=[]), DatasetError, "give both train and test data"),
    (dict(train=[], test=[]), InputError, "data has no batches"),
])
def test_run_api_refuses_bad_objects_before_anything_is_written(kwargs, error, message, tmp_path):
    from quanos_hw.pipeline import run
    from quanos_hw.pipeline.config import RunConfig

    with pytest.raises(error, match=re.escape(message)):
        run(RunConfig(out_dir=str(tmp_path / "out")), progress=False, log=lambda m: None, **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_run_api_on_a_module_and_tensor_data(tmp_path):
    """The whole QUANOS experiment on an nn.Module and a TensorData/DataLoader pair (about 20 s)."""
    import quanos_hw
    from quanos_hw.data import synthetic_data
    from quanos_hw.pipeline.config import RunConfig, parse_set
    from tests.conftest import FAST

    train, test = synthetic_data(n_train=200, n_test=80, image_shape=(1, 10, 10), num_classes=4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(test.images, test.labels), batch_size=32)
    config = parse_set(FAST + ["ans_eps=0.1", f"out_dir={tmp_path / 'run'}"], RunConfig())
    net = Tiny(num_classes=4)
    result = quanos_hw.run(config, model=net, train=train, test=loader, progress=False, log=lambda m: None)
    report = result.report
    assert report["config"]["model"] == f"{Tiny.__module__}:Tiny"
    assert report["dataset"] == {"name": "custom", "train_size": 200, "test_size": 80, "input_shape": [1, 10, 10],
                                 "num_classes": 4}
    assert list(report["bits"]) == ["net.conv", "net.fc"]
    assert set(report["models"]) >= {"quanos", "float32", "uniform16", "uniform8"}
    assert report["models"]["quanos"]["robustness"]["clean"] > 0.5  # chance: 0.25
    assert isinstance(net.conv, nn.Conv2d)  # the object given is not changed


def test_dse_workloads_name_sources(nets, tmp_path):
    from quanos_hw.bitconfig import uniform_bit_config
    from quanos_hw.dse import load_workloads

    (workload,) = load_workloads(f"{nets}:make/synthetic@4")  # a source's path holds '/': the dataset is split off
    assert [(s.name, s.weight_bit_width, s.in_channels) for s in workload.layers] == [("net.0", 4, 1), ("net.5", 4, 6)]
    (tmp_path / "b.json").write_text(json.dumps(uniform_bit_config(["net.0", "net.5"], 6)))
    (workload,) = load_workloads(f"{nets}:make/digits:{tmp_path / 'b.json'}")
    assert [s.weight_bit_width for s in workload.layers] == [6, 6] and workload.layers[0].out_height == 8


@pytest.mark.slow
def test_cli_run_with_a_factory_file_and_weights(nets, tmp_path, capsys):
    """README's ``quanos run --set model=nets.py:make --weights w.pt --set dataset=digits`` (fast settings)."""
    from quanos_hw.cli import main
    from tests.conftest import FAST

    torch.save(create_model(f"{nets}:make", num_classes=10, in_channels=1).float_state_dict(), tmp_path / "w.pt")
    sets = [a for item in FAST + ["ans_eps=0.1"] for a in ("--set", item)]
    code = main(["run", *sets, "--set", f"model={nets}:make", "--weights", str(tmp_path / "w.pt"), "--set",
                 "dataset=digits", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["config"]["model"] == f"{nets}:make" and report["config"]["weights"] == str(tmp_path / "w.pt")
    assert report["dataset"]["name"] == "digits" and list(report["bits"]) == ["net.0", "net.5"]
