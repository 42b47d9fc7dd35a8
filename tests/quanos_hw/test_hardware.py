import pytest
import torch
from torch import nn

from energy_models import energy_report
from quanos_hw import create_model, extract_layers
from quanos_hw.bitconfig import uniform_bit_config
from quanos_hw.errors import BitConfigError, InputError
from quanos_hw.hardware import with_bit_config


class Plain(nn.Module):
    """A plain torch model: a grouped conv, a depthwise conv, a pointwise conv and a linear layer."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(8, 16, 3, padding=1, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.depthwise = nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)
        self.pointwise = nn.Conv2d(16, 32, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.bn(self.grouped(x)))  # functional relu: the producer is lost here
        h = self.pointwise(self.depthwise(h))
        return self.fc(self.flat(self.pool(h)))


def test_hand_computed_counts_for_grouped_depthwise_and_linear():
    layers = {layer.name: layer for layer in extract_layers(Plain(), (8, 10, 10))}
    g = layers["grouped"]
    assert (g.macs, g.weights, g.inputs, g.outputs) == (16 * 10 * 10 * (8 // 4) * 9, 16 * 2 * 9, 800, 1600)
    assert g.padded_inputs == 8 * 12 * 12 and g.extra_params == 0 and g.input_source == "@input"
    d = layers["depthwise"]
    assert (d.macs, d.weights, d.outputs, d.extra_params) == (16 * 5 * 5 * 1 * 9, 16 * 9, 400, 16)
    assert d.input_source is None  # through torch.relu (functional): unknown
    p = layers["pointwise"]
    assert (p.macs, p.weights, p.input_source) == (32 * 5 * 5 * 16, 512, "depthwise")
    fc = layers["fc"]
    assert (fc.kind, fc.macs, fc.weights, fc.extra_params, fc.input_source) == ("linear", 320, 320, 10, "pointwise")
    assert [layer.weight_bit_width for layer in layers.values()] == [16] * 4


def test_quanos_layers_and_bits():
    model = create_model("small_cnn", in_channels=1, bit_config=4)
    layers = extract_layers(model, (1, 28, 28))
    assert [layer.name for layer in layers] == ["features.0", "features.1", "features.3", "features.5", "classifier"]
    assert [layer.input_source for layer in layers] == ["@input", "features.0", "features.1", "features.3",
                                                        "features.5"]
    assert all(layer.weight_bit_width == 4 for layer in layers)
    assert layers[0].macs == 28 * 28 * 16 * 9 and layers[0].extra_params == 32  # BN affine
    override = extract_layers(model, (1, 28, 28), 6)
    assert all(layer.act_bit_width == 6 for layer in override)
    with pytest.raises(BitConfigError, match="missing layer"):
        extract_layers(model, (1, 28, 28), {"features.0": {"weight_bit_width": 4, "act_bit_width": 4}})


def test_resnet_shortcuts_and_sources():
    layers = {layer.name: layer for layer in extract_layers(create_model("resnet18"), (3, 32, 32))}
    assert layers["layer2.0.shortcut"].input_source == "layer1.1.conv2"
    assert layers["layer2.0.shortcut"].macs == 128 * 16 * 16 * 64
    assert layers["layer2.0.conv1"].input_source == "layer1.1.conv2"
    assert layers["fc"].input_source == "layer4.1.conv2"


def test_input_shape_that_does_not_fit():
    with pytest.raises(InputError, match="does not fit the model"):
        extract_layers(create_model("small_cnn", in_channels=1), (3, 28, 28))
    with pytest.raises(InputError, match="input shape must be positive"):
        extract_layers(create_model("small_cnn", in_channels=1), (1, 0, 28))
    with pytest.raises(InputError, match="no conv or linear layers"):
        extract_layers(nn.Sequential(nn.ReLU()), (1, 4, 4))


def test_bits_travel_in_the_layer_specs():
    model = create_model("small_cnn", in_channels=1)
    config = uniform_bit_config(model, 8)
    config["features.3"] = {"weight_bit_width": 3, "act_bit_width": 5}
    layers = extract_layers(model, (1, 28, 28), config)
    assert layers == with_bit_config(extract_layers(model, (1, 28, 28)), config)
    assert [(lyr.weight_bit_width, lyr.act_bit_width) for lyr in layers] == [(8, 8), (8, 8), (3, 5), (8, 8), (8, 8)]
    rows = energy_report(layers)["layers"]
    assert [(r["weight_bit_width"], r["act_bit_width"], r["input_bit_width"]) for r in rows] == [
        (8, 8, 8), (8, 8, 8), (3, 5, 8), (8, 8, 5), (8, 8, 8)]


@pytest.mark.parametrize("training", [True, False])
def test_the_model_keeps_its_mode(training):
    model = create_model("small_cnn", in_channels=1).train(training)
    extract_layers(model, (1, 28, 28))
    assert model.training is training
    with pytest.raises(InputError, match="does not fit"):
        extract_layers(model, (3, 28, 28))
    assert model.training is training
