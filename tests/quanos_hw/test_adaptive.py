"""The float twin (BPDA) view of a quantized model: its forward is the quantized model's, its
gradient the float model's, and the model itself is left as it was."""

import pytest
import torch
import torch.nn.functional as F

from quanos_hw import create_model, quantizable_layers
from quanos_hw.adaptive import FloatTwinGradient, float_twin_gradient, quantizers_enabled
from quanos_hw.bitconfig import apply_bit_config
from quanos_hw.data import load_dataset
from quanos_hw.quantization import calibrate_activations, quantization_enabled, set_quantization


@pytest.fixture(scope="module")
def quantized():
    """An untrained small_cnn at 2-5 bits on the digits (calibrated): coarse enough that the
    quantized and float gradients differ clearly."""
    digits = load_dataset("digits")
    torch.manual_seed(0)
    model = create_model("small_cnn", in_channels=1, mean=digits.mean, std=digits.std)
    apply_bit_config(model, {n: {"weight_bit_width": b, "act_bit_width": b}
                             for n, b in zip(quantizable_layers(model), [5, 4, 3, 3, 2])})
    calibrate_activations(model, [x for x, _ in digits.train.batches(128, 2)])
    x, y = digits.test.take(torch.arange(32))
    return model.eval(), x, y


def _input_gradient(model, x, y):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(x), y), x)[0]


def test_forward_is_the_quantized_model_and_gradient_the_float_twin(quantized):
    model, x, y = quantized
    twin = FloatTwinGradient(model).eval()
    with torch.no_grad():
        assert torch.allclose(twin(x), model(x), atol=1e-5)
        set_quantization(model, False)
        floating = model(x)
        set_quantization(model, True)
        assert not torch.allclose(floating, model(x), atol=1e-3)  # the two networks really differ
    straight_through = _input_gradient(model, x, y)
    twin_gradient = _input_gradient(twin, x, y)
    # exactly the float network's backward pass, fed the loss gradient at the quantized logits:
    # d CE / d x = J_float(x)^T (softmax(q) - onehot(y)) / N
    with torch.no_grad():
        upstream = (F.softmax(model(x), dim=1) - F.one_hot(y, 10).float()) / len(y)
    set_quantization(model, False)
    inputs = x.clone().requires_grad_(True)
    expected = torch.autograd.grad(model(inputs), inputs, grad_outputs=upstream)[0]
    set_quantization(model, True)
    assert torch.allclose(twin_gradient, expected, atol=1e-7, rtol=1e-4)
    assert not torch.allclose(twin_gradient, straight_through, atol=1e-6)


def test_the_model_is_left_as_it_was(quantized):
    model, x, y = quantized
    before = {k: v.clone() for k, v in model.state_dict().items()}
    twin = float_twin_gradient(model)
    assert isinstance(twin, FloatTwinGradient) and twin.quantized is model and twin.float_twin is not model
    assert quantization_enabled(model) and not quantizers_enabled(twin.float_twin)
    twin(x)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    from quanos_hw.attacks import apgd_ce, pgd

    for attack in (lambda m: pgd(m, x, y, 0.1, alpha=0.05, steps=1), lambda m: apgd_ce(m, x, y, 0.1, steps=2)):
        attack(float_twin_gradient(model))
        assert not model.training  # the attack's eval mode is undone to the model's own mode
        model.train()
        attack(float_twin_gradient(model))
        assert model.training
        model.eval()


def test_a_float_model_has_no_twin():
    model = create_model("small_cnn", in_channels=1, quantize=False)
    assert not quantizers_enabled(model) and float_twin_gradient(model) is None
    assert not quantizers_enabled(torch.nn.Linear(3, 2))
