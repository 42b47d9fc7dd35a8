import pytest
import torch

from quanos_hw import create_model, get_bit_config, list_models, quantizable_layers
from quanos_hw.bitconfig import apply_bit_config, uniform_bit_config
from quanos_hw.errors import BitConfigError, InputError, UnknownNameError
from quanos_hw.hardware import extract_layers
from quanos_hw.quantization import calibrate_activations, is_calibrated, quantization_enabled, set_quantization

MODELS = list_models()


def test_registry_has_the_zoo():
    assert MODELS == ["resnet18", "resnet20", "small_cnn", "vgg11", "vgg16", "vgg19"]


def _mixed(model):
    names = quantizable_layers(model)
    return {n: {"weight_bit_width": 2 + (3 * i) % 15, "act_bit_width": 16 - (5 * i) % 15} for i, n in enumerate(names)}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
def test_builds_and_trains_one_step_at_every_precision(name, shape):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_channels=shape[0])
    x, y = torch.rand(2, *shape), torch.tensor([0, 1])
    for bits in (16, 8, 4, 2, "mixed"):
        config = _mixed(model) if bits == "mixed" else bits
        apply_bit_config(model, config)
        expected = config if bits == "mixed" else uniform_bit_config(model, bits)
        assert get_bit_config(model) == expected
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        before = [p.detach().clone() for p in model.parameters()]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
        assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
        assert model(x).shape == (2, 10)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_b_bit_weights_take_at_most_2_to_the_b_values(bits):
    torch.manual_seed(0)
    model = create_model("small_cnn", in_channels=1, bit_config=bits)
    for name in quantizable_layers(model):
        layer = model.get_submodule(name)
        q = layer.op.quant_weight()
        assert q.int().unique().numel() <= 2**bits
        for channel in q.value:  # per-channel scales: values within a channel
            assert channel.unique().numel() <= 2**bits


def test_per_tensor_scaling_bounds_the_whole_tensor():
    model = create_model("small_cnn", in_channels=1, bit_config=3, weight_scaling="per_tensor")
    for name in quantizable_layers(model):
        assert model.get_submodule(name).op.quant_weight().value.unique().numel() <= 8


def test_b_bit_activations_take_at_most_2_to_the_b_values():
    torch.manual_seed(0)
    model = create_model("small_cnn", in_channels=1, bit_config=3)
    calibrate_activations(model, [torch.rand(16, 1, 28, 28)])
    outputs = {}
    for name in quantizable_layers(model):
        model.get_submodule(name).register_forward_hook(lambda m, i, o, n=name: outputs.__setitem__(n, o))
    model.eval()
    model(torch.rand(32, 1, 28, 28))
    for name, out in outputs.items():
        assert out.unique().numel() <= 8, name


def test_changing_bits_in_place_keeps_weights_and_scales():
    torch.manual_seed(0)
    model = create_model("resnet20", bit_config=8)
    calibrate_activations(model, [torch.rand(4, 3, 32, 32)])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    apply_bit_config(model, 4)
    after = model.state_dict()
    changed = {k for k in state if not torch.equal(state[k], after[k])}
    assert changed and all(k.endswith("bit_width") for k in changed)
    assert all(v["weight_bit_width"] == 4 for v in get_bit_config(model).values())
    assert is_calibrated(model)


def test_float_mode_is_the_same_model_with_quantizers_off():
    torch.manual_seed(0)
    q = create_model("small_cnn", in_channels=1, bit_config=2)
    f = create_model("small_cnn", in_channels=1, quantize=False)
    assert type(q) is type(f) and quantization_enabled(q) and not quantization_enabled(f)
    f.load_state_dict(q.state_dict(), strict=False)
    calibrate_activations(q, [torch.rand(8, 1, 28, 28)])
    x = torch.rand(4, 1, 28, 28)
    q.eval(), f.eval()
    set_quantization(q, False)
    assert torch.allclose(q(x), f(x))
    set_quantization(q, True)
    assert not torch.allclose(q(x), f(x))


def test_normalisation_lives_inside_the_model():
    model = create_model("small_cnn", in_channels=1, quantize=False, mean=(0.5,), std=(0.25,))
    assert torch.allclose(model.normalize(torch.full((1, 1, 2, 2), 0.75)), torch.ones(1, 1, 2, 2))
    assert "normalize.mean" in model.state_dict()


def test_reference_mac_and_parameter_counts():
    vgg16 = extract_layers(create_model("vgg16"), (3, 32, 32))
    assert sum(layer.macs for layer in vgg16) == 313_201_664
    assert sum(layer.macs for layer in vgg16 if layer.kind == "conv") == 313_196_544
    resnet20 = create_model("resnet20")
    assert sum(layer.macs for layer in extract_layers(resnet20, (3, 32, 32))) == 40_551_040
    # trainable parameters of the network (the quantizers' learned clip ranges excluded)
    trainable = sum(p.numel() for n, p in resnet20.named_parameters() if "act_quant" not in n)
    assert trainable == 269_722


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="alexnet"), "unknown model 'alexnet'"),
    (dict(name="small_cnn", num_classes=0), "num_classes"),
    (dict(name="small_cnn", bit_config=17), "between 2 and 16"),
    (dict(name="small_cnn", bit_config=1), "between 2 and 16"),
    (dict(name="small_cnn", weight_scaling="per_row"), "weight_scaling"),
])
def test_bad_model_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        create_model(**kwargs)


def test_unknown_model_error_is_a_registry_error():
    with pytest.raises(UnknownNameError, match="choose one of: resnet18, resnet20, small_cnn"):
        create_model("lenet")


def test_bad_bit_config_names_the_problem():
    model = create_model("small_cnn", in_channels=1)
    config = uniform_bit_config(model, 8)
    config["features.9"] = config.pop("features.0")
    with pytest.raises(BitConfigError, match=r"unknown layer\(s\) \['features.9'\]"):
        apply_bit_config(model, config)
