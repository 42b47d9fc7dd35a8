"""The attacks wrapped from IBM's Adversarial Robustness Toolbox (apgd_ce, apgd_dlr, square):
cross-checks against the project's PGD and a transfer attack, the DLR loss by hand, and the
plumbing (seeded, no trace on the global random state or the model). Tiny models on the 8x8
digits, trained in the module (about 1 s each)."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from quanos_hw.attacks import apgd_ce, apgd_dlr, pgd, square
from quanos_hw.attacks.apgd_dlr import DLRLoss, dlr_loss
from quanos_hw.errors import InputError
from tests.conftest import digits_small_cnn, mixed_copy


@pytest.fixture(scope="module")
def models(digits):
    """A float model and a mixed-precision copy of its weights (calibrated, not retrained)."""
    float_model = digits_small_cnn(digits, 0)
    return {"float": float_model, "mixed": mixed_copy(float_model, digits, [8, 4, 3, 6, 5], [6, 4, 5, 3, 8])}


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return 100 * float((model(x).argmax(1) == y).float().mean())


# -- cross-check: ART's APGD-CE at 1 restart vs the project's PGD with the same steps and step size --
@pytest.mark.parametrize("kind, images, steps", [("float", 360, 30), ("mixed", 180, 20)])
def test_apgd_ce_and_pgd_with_the_same_step_schedule(models, digits, kind, images, steps):
    """eps 0.1 puts both near 52% on the test digits, far from 0 and from clean (99%), so agreement
    means something. Both take ``steps`` steps of eps/4 from a uniform random start; APGD (1
    restart, the same initial step) adds its step halving and momentum. On the float model they
    agree within 1 point (53.3% vs 53.1% on the 360 digits; 1 image = 0.28 points). On the
    mixed-precision model APGD is stronger (51.7% vs 53.9% here; on all 360 digits 54.2% vs 56.4% at
    30 steps and 48.9% vs 56.4% at 100): PGD with a fixed step under-reports the attack on the
    quantized network, which is why the worst case runs APGD as well. Here: never weaker than PGD
    by more than 1 point."""
    model, (x, y) = models[kind], (digits.test.images[:images], digits.test.labels[:images])
    eps = 0.1
    ours = _accuracy(model, pgd(model, x, y, eps, alpha=eps / 4, steps=steps, seed=0), y)
    art = _accuracy(model, apgd_ce(model, x, y, eps, steps=steps, restarts=1, eps_step=eps / 4, seed=0), y)
    assert 40 < ours < 70 and _accuracy(model, x, y) > 95
    if kind == "float":
        assert abs(art - ours) <= 1.0, (art, ours)
    else:
        assert art <= ours + 1.0, (art, ours)


# -- cross-check: a gradient-free attack sees through a non-differentiable rounding of the logits --
class RoundedLogits(nn.Module):
    """The logits rounded to multiples of 0.5: the same predictions, zero gradient everywhere."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.round(self.inner(x) * 2) / 2


def test_square_sees_through_rounded_logits_where_pgd_fails(models, digits):
    """eps 0.3 (AutoAttack's MNIST budget) on 80 digits: PGD through the rounding has no gradient
    and leaves accuracy at the clean level; PGD transferred from an independently trained surrogate
    takes it to 2.5%, and Square, reading only the rounded scores, to 10.0% with 200 queries (8.3%
    with 300 on 120 digits)."""
    masked = RoundedLogits(models["float"]).eval()
    surrogate = digits_small_cnn(digits, 1)
    x, y = digits.test.images[:80], digits.test.labels[:80]
    eps = 0.3
    clean = _accuracy(masked, x, y)
    through = _accuracy(masked, pgd(masked, x, y, eps, alpha=eps / 4, steps=10, seed=0), y)
    transfer = _accuracy(masked, pgd(surrogate, x, y, eps, alpha=eps / 4, steps=10, seed=0), y)
    scores = _accuracy(masked, square(masked, x, y, eps, queries=200, seed=0), y)
    assert clean > 95 and through >= clean - 3  # the gradient attack is blind
    assert transfer < 10 and scores <= transfer + 10  # Square reaches about the transfer attack's level
    assert scores < through - 80


# -- the DLR loss --------------------------------------------------------------------------------
def test_dlr_loss_by_hand():
    logits = torch.tensor([[4.0, 1.0, 3.0, 0.0],    # true class 0 on top: -(4 - 3) / (4 - 1) = -1/3
                           [1.0, 5.0, 2.0, 3.0],    # true class 2, top 5: -(2 - 5) / (5 - 2) = +1
                           [2.0, 2.0, 2.0, 2.0]])   # all tied: 0 / (0 + 1e-12) = 0, finite
    loss = dlr_loss(logits, torch.tensor([0, 2, 1]))
    assert loss.tolist() == pytest.approx([-1 / 3, 1.0, 0.0], abs=1e-6)
    assert torch.isfinite(loss).all()
    # invariant to shifting and (positive) scaling of the logits
    assert dlr_loss(3 * logits[:2] + 7, torch.tensor([0, 2])).tolist() == pytest.approx([-1 / 3, 1.0], abs=1e-6)
    as_art = DLRLoss()
    one_hot = nn.functional.one_hot(torch.tensor([0, 2, 1]), 4).float()
    assert float(as_art(logits, one_hot)) == pytest.approx(2 / 9, abs=1e-6)  # mean, ART's default reduction
    as_art.reduction = "none"
    assert as_art(logits, one_hot).tolist() == pytest.approx([-1 / 3, 1.0, 0.0], abs=1e-6)


def test_apgd_dlr_attacks_and_needs_three_classes(models, digits):
    model, (x, y) = models["mixed"], digits.test.take(torch.arange(64))
    adv = apgd_dlr(model, x, y, 0.1, steps=10, seed=0)
    assert torch.isfinite(adv).all() and (adv - x).abs().max() <= 0.1 + 1e-6
    assert _accuracy(model, adv, y) < _accuracy(model, x, y) - 20
    two = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with pytest.raises(InputError, match="attack 'apgd_dlr' needs at least 3 classes .* the model has 2"):
        apgd_dlr(two, x, y % 2, 0.1, steps=2)


# -- the plumbing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", [lambda m, x, y, s: apgd_ce(m, x, y, 0.1, steps=3, seed=s),
                                    lambda m, x, y, s: square(m, x, y, 0.1, queries=5, seed=s)],
                         ids=["apgd_ce", "square"])
def test_art_attacks_are_seeded_and_leave_no_trace(models, digits, attack):
    model, (x, y) = models["mixed"], digits.test.take(torch.arange(32))
    model.train()
    np.random.seed(123)
    random.seed(123)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    first = attack(model, x, y, 4)
    assert model.training and all(p.requires_grad and p.grad is None for p in model.parameters())
    assert np.array_equal(np.random.get_state()[1], numpy_state[1]) and random.getstate() == python_state
    model.eval()
    assert torch.equal(first, attack(model, x, y, 4)) and not torch.equal(first, attack(model, x, y, 5))
    assert (first - x).abs().max() <= 0.1 + 1e-6 and first.min() >= 0 and first.max() <= 1


def test_eps_zero_returns_the_images_and_bad_input_is_refused(models, digits):
    model, (x, y) = models["float"], digits.test.take(torch.arange(8))
    assert torch.equal(apgd_ce(model, x, y, 0.0, steps=3), x) and torch.equal(square(model, x, y, 0.0, queries=3), x)
    with pytest.raises(InputError, match="eps must be between 0 and 1"):
        apgd_ce(model, x, y, 1.5)
    with pytest.raises(InputError, match=r"attack 'square': its first square \(4 px, p_init 0.8\) does not fit"):
        square(nn.Sequential(nn.Flatten(), nn.Linear(16, 10)), x[:, :, :4, :4], y, 0.1, queries=2)
