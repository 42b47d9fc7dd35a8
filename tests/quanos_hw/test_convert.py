"""Conversion of plain torch networks (quanos_hw/convert.py): every conv and linear layer becomes an
InputQuantLayer with its own bits; the float model is reproduced exactly with quantizers off, closely
at 16 bits; bits, sensitivity metrics, policies, energy, checkpoints and ONNX export work on it."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quanos_hw import apply_bit_config, calibrate_activations, create_model, extract_layers, get_bit_config
from quanos_hw.convert import convert_model, float_state_dict
from quanos_hw.errors import InputError, ModelError
from quanos_hw.layers import InputQuantLayer, quant_layers
from quanos_hw.quantization import set_quantization

NAMES = ["net.conv1", "net.conv2", "net.dw", "net.fc"]


class Tiny(nn.Module):
    """BatchNorm, a functional residual, a depthwise conv with reflect padding, a linear head."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=1, padding=2, dilation=2)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, padding_mode="reflect")
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = h + F.relu(self.conv2(h))
        h = self.dw(h)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


@pytest.fixture
def data():
    from quanos_hw.data import synthetic_data

    return synthetic_data(n_train=120, n_test=40, image_shape=(1, 12, 12))


def _net(seed: int = 0) -> Tiny:
    torch.manual_seed(seed)
    net = Tiny()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        net.bn1.running_mean.uniform_(-0.2, 0.2)
        net.bn1.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_every_conv_and_linear_becomes_an_input_quant_layer_with_the_float_layer_copied():
    net = _net()
    model = create_model(net, num_classes=10, in_channels=1)
    layers = quant_layers(model)
    assert list(layers) == NAMES
    assert all(isinstance(layer, InputQuantLayer) for layer in layers.values())
    for name, layer in layers.items():
        old, op = getattr(net, name[4:]), layer.op
        assert torch.equal(op.weight, old.weight)
        assert (op.bias is None) == (old.bias is None) and (old.bias is None or torch.equal(op.bias, old.bias))
        if isinstance(old, nn.Conv2d):
            for attr in ("stride", "padding", "dilation", "groups", "padding_mode", "in_channels", "out_channels"):
                assert getattr(op, attr) == getattr(old, attr), (name, attr)
        assert layer.in_features if isinstance(old, nn.Linear) else layer.kernel_size == old.kernel_size  # forwarded
    assert isinstance(net.conv1, nn.Conv2d) and not quant_layers(net)  # the object given is not changed


def test_float_mode_is_exactly_the_float_model_and_16_bits_is_close(data):
    train, test = data
    net = _net()
    model = create_model(net, num_classes=10, in_channels=1, quantize=False).eval()
    x = test.images
    with torch.no_grad():
        reference = net(x)
        assert torch.equal(model(x), reference)
        set_quantization(model, True)
        calibrate_activations(model, [train.images[:60]])
        diff = (model(x) - reference).abs().max().item()
    assert diff < 1e-3 * reference.abs().max().item(), diff
    with torch.no_grad():
        apply_bit_config(model, 3)
        assert (model(x) - reference).abs().max().item() > 100 * diff  # the bits are really used


def test_a_torchvision_resnet_with_functional_residuals_in_float_mode_is_exact():
    from torchvision import models

    torch.manual_seed(0)
    model = create_model("torchvision:resnet18", num_classes=10, in_channels=3, quantize=False).eval()
    net = models.resnet18(weights=None, num_classes=10).eval()
    net.load_state_dict(float_state_dict(model.net))
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), net(x))
    assert len(quant_layers(model)) == 21  # 17 convs of the blocks and the stem, 3 projections, the fc


def test_training_steps_are_those_of_the_float_model(data):
    """Three SGD steps on the float network and on its conversion (quantizers off) end at the same
    weights: the conversion changes neither the forward nor the gradients."""
    train, _ = data
    net = _net().train()
    model = create_model(net, num_classes=10, in_channels=1, quantize=False).train()
    for module in (net, model):
        opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
        for step in range(3):
            x, y = train.images[40 * step:40 * (step + 1)], train.labels[40 * step:40 * (step + 1)]
            opt.zero_grad()
            F.cross_entropy(module(x), y).backward()
            opt.step()
    trained = float_state_dict(model.net)
    assert set(trained) == set(net.state_dict())
    for key, value in net.state_dict().items():
        assert torch.allclose(trained[key], value, atol=1e-6), key


def test_bit_configs_keyed_by_module_name_apply(data):
    train, test = data
    model = create_model(_net(), num_classes=10, in_channels=1)
    calibrate_activations(model, [train.images[:60]])
    config = {"net.conv1": (3, 8), "net.conv2": (5, 4), "net.dw": (2, 6), "net.fc": (7, 3)}
    apply_bit_config(model, {n: {"weight_bit_width": w, "act_bit_width": a} for n, (w, a) in config.items()})
    assert {n: (v["weight_bit_width"], v["act_bit_width"]) for n, v in get_bit_config(model).items()} == config
    seen = {}
    hooks = [layer.op.register_forward_pre_hook(lambda m, args, n=n: seen.__setitem__(n, args[0]))
             for n, layer in quant_layers(model).items()]
    with torch.no_grad():
        model.eval()(test.images)
    for h in hooks:
        h.remove()
    for name, (w, a) in config.items():
        op = quant_layers(model)[name].op
        weights = op.quant_weight().value.detach()
        levels = max(len(torch.unique(weights[c])) for c in range(weights.shape[0]))
        assert levels <= 2 ** w - 1, (name, levels)  # narrow-range signed weights, one scale per channel
        assert len(torch.unique(seen[name])) <= 2 ** a, name  # the activations the MACs consume
    layers = extract_layers(model, (1, 12, 12))
    assert [(s.name, s.weight_bit_width, s.act_bit_width, s.input_source) for s in layers] == [
        (n, w, a, None) for n, (w, a) in config.items()]


def test_the_energy_estimate_costs_each_layer_with_its_own_input_bits():
    from energy_models import estimate

    model = create_model(_net(), num_classes=10, in_channels=1)
    apply_bit_config(model, {n: {"weight_bit_width": 8, "act_bit_width": a} for n, a in zip(NAMES, (3, 5, 7, 9))})
    result = estimate(extract_layers(model, (1, 12, 12)), architecture="bitfusion")
    assert result.input_bits.tolist() == [[3, 5, 7, 9]]  # not the producer's bits, not the 8-bit image


def test_macs_of_the_converted_tiny_network_by_hand():
    layers = extract_layers(create_model(_net(), num_classes=10, in_channels=1), (1, 12, 12))
    # conv1 12x12x8 outputs x 1x3x3; conv2 12x12x8 x 8x3x3; depthwise 6x6x8 x 1x3x3; fc 10 x 8
    assert [s.macs for s in layers] == [1152 * 9, 1152 * 72, 288 * 9, 80]
    assert [s.groups for s in layers] == [1, 1, 8, 1]


def test_every_sensitivity_metric_and_a_budget_policy_work_on_a_converted_model(data):
    from quanos_hw.allocation import POLICIES, BudgetProblem
    from quanos_hw.sensitivity import METRICS, compute_sensitivity, metric_options

    train, _ = data
    model = create_model(_net(), num_classes=10, in_channels=1)
    calibrate_activations(model, [train.images[:60]])
    options = {"eps": 0.1, "max_batches": 1, "batch_size": 20, "max_iter": 2, "trials": 1}
    scores = {}
    for name in METRICS.names():
        scores[name] = compute_sensitivity(name, model, train, **{k: v for k, v in options.items()
                                                                 if k in metric_options(name)})
        assert list(scores[name]) == NAMES, name
    problem = BudgetProblem.from_fraction(extract_layers(model, (1, 12, 12)), "bitfusion", 0.4)
    allocation = POLICIES.get("budget_ilp")(problem, scores["ans"])
    apply_bit_config(model, allocation.bits)
    assert get_bit_config(model) == allocation.bits


def test_a_checkpoint_of_a_converted_model_loads_with_weights_only(tmp_path, data):
    from quanos_hw.checkpoint import load_checkpoint, load_model_state, save_checkpoint

    train, test = data
    factory = tmp_path / "nets.py"
    factory.write_text(textwrap.dedent(_FACTORY))
    spec = f"{factory}:make"
    model = create_model(spec, num_classes=10, in_channels=1, bit_config=6)
    calibrate_activations(model, [train.images[:60]])
    save_checkpoint(tmp_path / "c.pt", model=model, config_hash="x", epoch=1)
    again = create_model(spec, num_classes=10, in_channels=1)
    load_model_state(again, load_checkpoint(tmp_path / "c.pt")["model"])  # torch.load(weights_only=True)
    assert get_bit_config(again) == get_bit_config(model)
    with torch.no_grad():
        assert torch.equal(again.eval()(test.images), model.eval()(test.images))


def test_onnx_export_of_a_converted_checkpoint(tmp_path, data):
    pytest.importorskip("onnx")
    from quanos_hw.checkpoint import save_checkpoint
    from quanos_hw.export import export_model

    train, _ = data
    factory = tmp_path / "nets.py"
    factory.write_text(textwrap.dedent(_FACTORY))
    spec = f"{factory}:make"
    model = create_model(spec, num_classes=10, in_channels=1, bit_config=4)
    calibrate_activations(model, [train.images[:60]])
    meta = {"model": spec, "num_classes": 10, "in_channels": 1, "input_shape": [1, 12, 12], "quantized": True}
    save_checkpoint(tmp_path / "c.pt", model=model, config_hash="x", epoch=1, meta=meta)
    result = export_model(tmp_path / "c.pt", tmp_path / "c.onnx")
    assert result.bits == get_bit_config(model) and (tmp_path / "c.onnx").stat().st_size > 0


_FACTORY = """
    import torch
    from torch import nn

    def make(num_classes, in_channels):
        return nn.Sequential(nn.Conv2d(in_channels, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(6, num_classes))
"""


class _Matmul(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.w = nn.Parameter(torch.zeros(4, 10))

    def forward(self, x):
        return self.conv(x).mean((2, 3)) @ self.w


class _Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(self.conv(self.conv(self.stem(x))).mean((2, 3)))


class _OwnForward(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2


class _StandardisedConv(nn.Conv2d):
    def _conv_forward(self, x, weight, bias):
        return super()._conv_forward(x, weight / weight.std(), bias)


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3)
        self.b = self.a


@pytest.mark.parametrize("net, message", [
    (nn.Sequential(nn.LSTM(4, 4), nn.Linear(4, 2)), "cannot be converted: nn.LSTM at '0'"),
    (nn.Sequential(nn.Linear(4, 4), nn.MultiheadAttention(4, 2)), "nn.MultiheadAttention at '1'"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.ConvTranspose2d(2, 2, 3)), "nn.Conv1d at '0'; nn.ConvTranspose2d at '1'"),
    (nn.Sequential(_OwnForward(3, 3)), "_OwnForward (a conv/linear subclass with its own forward) at '0'"),
    (nn.Sequential(_StandardisedConv(1, 2, 3)), "_StandardisedConv (a conv/linear subclass with its own forward)"),
    (nn.Sequential(nn.LazyLinear(3)), "LazyLinear (uninitialised: run one forward pass first) at '0'"),
    (nn.Sequential(nn.ReLU(), nn.Flatten()), "has no nn.Conv2d or nn.Linear layer to quantize"),
    (nn.Linear(3, 3), "is a single Linear; wrap it in a module"),
    (_Shared(), "one Conv2d is registered as 'a' and 'b'"),
])
def test_what_cannot_be_converted_is_named_in_one_line(net, message):
    with pytest.raises(ModelError, match=__import__("re").escape(message)):
        convert_model(net, what="model 'x'")


@pytest.mark.parametrize("net, message", [
    (_Matmul(), "the model computes matmul in its forward code, outside its conv and linear modules"),
    (_Twice(), "layer 'net.conv' runs twice in one forward pass"),
])
def test_what_cannot_be_traced_is_named_in_one_line(net, message):
    model = create_model(net, num_classes=10, in_channels=1)
    with pytest.raises(InputError, match=__import__("re").escape(message)):
        extract_layers(model, (1, 8, 8))


def test_a_quanos_model_object_is_copied_not_converted():
    zoo = create_model("small_cnn", in_channels=1)
    model = create_model(zoo, in_channels=1)
    assert list(quant_layers(model)) == list(quant_layers(zoo)) and model is not zoo
