"""MaskedClamp (quanos_hw/clamp.py) gives exactly Brevitas' TensorClamp results, faster."""

import pytest
import torch
from brevitas.core.function_wrapper.clamp import TensorClamp
from brevitas.function.ops import tensor_clamp

from quanos_hw import create_model
from quanos_hw.clamp import MaskedClamp


def test_forward_and_gradient_equal_brevitas_including_values_on_the_bounds():
    torch.manual_seed(0)
    x = torch.round(torch.randn(4, 3, 8, 8) * 6)  # rounded, as in the quantizer: many values equal a bound
    lo, hi = torch.tensor(-4.0), torch.tensor(5.0)
    assert (x == lo).any() and (x == hi).any() and (x < lo).any() and (x > hi).any()
    grad = torch.randn_like(x)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_b = MaskedClamp()(a, lo, hi), tensor_clamp(b, lo, hi)
    out_a.backward(grad)
    out_b.backward(grad)
    assert torch.equal(out_a, out_b) and torch.equal(a.grad, b.grad)
    # the reason torch.clamp alone is not used: with tensor bounds it halves the gradient on a bound
    c = x.clone().requires_grad_()
    torch.clamp(c, lo, hi).backward(grad)
    assert not torch.equal(c.grad, b.grad)


def test_a_bound_that_needs_a_gradient_is_refused():
    with pytest.raises(ValueError, match="no gradient to its bounds"):
        MaskedClamp()(torch.zeros(3), torch.tensor(0.0, requires_grad=True), torch.tensor(1.0))


def _hybrid(brevitas_clamp: bool):
    torch.manual_seed(0)
    widths = {"features.0": (3, 4), "features.1": (8, 2), "features.3": (5, 6), "features.5": (2, 8),
              "classifier": (16, 16)}
    model = create_model("small_cnn", in_channels=1, quantize=True, bit_config={
        name: {"weight_bit_width": w, "act_bit_width": a} for name, (w, a) in widths.items()})
    if brevitas_clamp:
        for module in list(model.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, MaskedClamp):
                    setattr(module, name, TensorClamp())
    return model


def test_qat_steps_are_bit_identical_to_brevitas_clamp():
    from quanos_hw.quantization import calibrate_activations

    generator = torch.Generator().manual_seed(1)
    batches = [(torch.rand(32, 1, 28, 28, generator=generator), torch.randint(0, 10, (32,), generator=generator))
               for _ in range(4)]
    results = []
    for brevitas_clamp in (False, True):
        model = _hybrid(brevitas_clamp)
        assert any(isinstance(m, TensorClamp) for m in model.modules()) == brevitas_clamp
        calibrate_activations(model, [x for x, _ in batches[:2]])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        model.train()
        for x, y in batches:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        results.append((losses, model.state_dict()))
    (losses_a, state_a), (losses_b, state_b) = results
    assert losses_a == losses_b and losses_a[-1] != losses_a[0]
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
