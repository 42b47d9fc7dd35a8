"""The worst case (AutoAttack's protocol), its suites and the masking warning: the arithmetic by
hand, the cascade (gradient-free attacks only on what the white-box attacks left), and the whole
evaluation on tiny digits models (float, mixed precision, and one whose logits are rounded)."""

import json
from dataclasses import dataclass, field
from importlib import resources

import jsonschema
import pytest
import torch
from torch import nn

from quanos_hw.attacks import FGSM, PGD, APGDCrossEntropy, AttackSpec, Square
from quanos_hw.attacks.suites import SUITES
from quanos_hw.data import TensorData
from quanos_hw.errors import InputError, UnknownNameError
from quanos_hw.robustness import (
    AttackConfig,
    accuracy_columns,
    craft_transfer_set,
    evaluate_robustness,
    worst_case_accuracy,
)
from quanos_hw.worst_case import Component, Verdict, component_label, run_suite, worst_case
from tests.conftest import digits_small_cnn, mixed_copy
from tests.quanos_hw.test_attacks_art import RoundedLogits

SCHEMA = json.loads(resources.files("quanos_hw").joinpath("schemas", "report.schema.json").read_text())
ROBUSTNESS_SCHEMA = {"$defs": SCHEMA["$defs"], **SCHEMA["$defs"]["model"]["properties"]["robustness"]}
MASKING = "whitebox_not_beaten_by_gradient_free_or_transfer"


def _mask(*bits):
    return torch.tensor([bool(b) for b in bits])


# -- the arithmetic --------------------------------------------------------------------------------
def test_worst_case_by_hand():
    """5 images, the last misclassified without attack. White-box survivors: images 2 and 3 (both
    white-box attacks spare them); the transfer attack breaks 2 and Square (run on 2 and 3 only)
    breaks 3, so nothing survives everything."""
    clean = _mask(1, 1, 1, 1, 0)
    verdicts = [Verdict("pgd", "straight_through", _mask(0, 1, 1, 1, 1)),
                Verdict("apgd_ce", "float_twin", _mask(0, 0, 1, 1, 1)),
                Verdict("pgd", "transfer", _mask(1, 1, 0, 1, 1)),
                Verdict("square", "scores", _mask(0, 0, 1, 0, 0), everywhere=False)]
    worst = worst_case("default", "0.1", clean, verdicts, margin=0.02)
    assert (worst.samples, worst.clean, worst.white_box, worst.accuracy) == (5, 0.8, 0.4, 0.0)
    assert worst.components == [Component("pgd", "straight_through", 0.6, None),
                                Component("apgd_ce", "float_twin", 0.4, None),
                                Component("pgd", "transfer", 0.6, 0.2),
                                Component("square", "scores", None, 0.2)]
    assert worst.best_white_box == Component("apgd_ce", "float_twin", 0.4, None)
    assert worst.masking_warning and worst.beating_white_box() == worst.components[2:]
    calm = worst_case("default", "0.1", clean, verdicts, margin=0.2)  # 0.2 is not more than 0.2
    assert not calm.masking_warning and calm.beating_white_box() == []
    only_gradient_free = worst_case(None, "0.1", clean, verdicts[2:], margin=0.02)
    assert only_gradient_free.best_white_box is None and not only_gradient_free.masking_warning
    assert [component_label(c) for c in worst.components] == ["pgd", "apgd_ce float twin", "pgd transfer", "square"]


# -- the cascade -------------------------------------------------------------------------------------
class Threshold(nn.Module):
    """One-pixel images: class 1 when the pixel is above 0.5."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # predict() reads the device from a parameter

    def forward(self, x):
        v = x.flatten(1)[:, :1]
        return torch.cat([torch.zeros_like(v), 10 * (v - 0.5)], dim=1)


@dataclass(frozen=True)
class Lower(AttackSpec):
    """A stand-in attack: subtracts 0.5 from the pixels below ``below``; records what it saw."""

    below: float = 0.75
    seen: list = field(default_factory=list, compare=False)

    def perturb(self, model, x, y, eps, seed):
        self.seen.extend(round(v, 2) for v in x.flatten().tolist())
        return torch.where(x < self.below, x - 0.5, x)


@dataclass(frozen=True)
class LowerGradientFree(Lower):
    uses_gradients = False


def test_gradient_free_attacks_only_see_the_white_box_survivors():
    data = TensorData(torch.tensor([0.9, 0.8, 0.7, 0.6, 0.2]).reshape(5, 1, 1, 1), torch.ones(5, dtype=torch.long))
    clean = _mask(1, 1, 1, 1, 0)
    gradient, scores = Lower(eps=(0.1,), below=0.75), LowerGradientFree(eps=(0.1,), below=0.85)
    verdicts = run_suite(Threshold(), data, clean, (scores, gradient), [], 0.1, seed=0, batch_size=2, adaptive=True)
    assert gradient.seen == [0.9, 0.8, 0.7, 0.6] and scores.seen == [0.9, 0.8]  # a float model: no twin
    assert [(v.attack, v.via, v.robust.tolist(), v.everywhere) for v in verdicts] == [
        ("", "straight_through", [True, True, False, False, False], True),
        ("", "scores", [True, False, False, False, False], False)]
    worst = worst_case(None, "0.1", clean, verdicts, 0.02)
    assert (worst.white_box, worst.accuracy, worst.components[1].beyond_white_box) == (0.4, 0.2, 0.2)


# -- configuration ---------------------------------------------------------------------------------
def test_suites_and_their_attacks():
    assert SUITES.names() == ["default", "full", "quick"]
    config = AttackConfig(attacks=(FGSM(eps=(0.05, 0.1)), PGD(eps=(0.1,), steps=10)), robustness="default")
    assert config.suite_attacks(10) == (APGDCrossEntropy(eps=(0.1,), steps=10), Square(eps=(0.1,), queries=300))
    assert config.worst_case_samples(1000) == 200 and config.worst_case_samples(120) == 120
    full = AttackConfig(attacks=config.attacks, robustness="full")
    assert [s.to_dict() for s in full.suite_attacks(10)] == [
        {"name": "apgd_ce", "eps": [0.1], "steps": 100, "restarts": 1, "eps_step": None, "seed": None},
        {"name": "apgd_dlr", "eps": [0.1], "steps": 100, "restarts": 1, "eps_step": None, "seed": None},
        {"name": "square", "eps": [0.1], "queries": 5000, "p_init": 0.8, "restarts": 1, "seed": None}]
    assert [s.name for s in full.suite_attacks(2)] == ["apgd_ce", "square"]  # DLR needs 3 classes
    assert full.worst_case_samples(1000) == 1000
    assert AttackConfig(attacks=config.attacks, robustness="full", robustness_samples=50).worst_case_samples(1000) == 50
    quick = AttackConfig(attacks=config.attacks, robustness="quick")
    assert quick.suite_attacks(10) == (APGDCrossEntropy(eps=(0.1,), steps=5), Square(eps=(0.1,), queries=20))
    assert quick.worst_case_samples(1000) == 100
    assert AttackConfig(attacks=config.attacks).suite_attacks(10) == ()  # the API's default: no suite
    # an attack configured at the reference eps is not run twice; one configured elsewhere is
    mine = AttackConfig(attacks=(PGD(eps=(0.1,)), Square(eps=(0.1,), queries=7)), robustness="default")
    assert [s.name for s in mine.suite_attacks(10)] == ["apgd_ce"]
    assert mine.eps_grid() == {"pgd": (0.1,), "square": (0.1,)} and mine.reference.name == "pgd"
    other_eps = AttackConfig(attacks=(PGD(eps=(0.1,)), APGDCrossEntropy(eps=(0.2,))), robustness="default")
    assert [s.eps for s in other_eps.suite_attacks(10)] == [(0.1,), (0.1,)]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(robustness="strong"), UnknownNameError,
     "unknown robustness suite 'strong'; choose one of: default, full, quick"),
    (dict(robustness_samples=0), InputError, "robustness_samples must be a positive integer or None, got 0"),
    (dict(robustness_samples=10**9), InputError, "robustness_samples must be between 1 and 10000000"),
    (dict(masking_margin=2.0), InputError, "masking_margin must be between 0 and 1"),
    (dict(adaptive="yes"), InputError, "adaptive must be true or false"),
])
def test_bad_worst_case_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        AttackConfig(attacks=(PGD(eps=(0.1,)),), **kwargs)


# -- the whole evaluation on tiny models -------------------------------------------------------------
@pytest.fixture(scope="module")
def setting(digits):
    """A float model, its mixed-precision copy, a surrogate, 120 test digits and their transfer set."""
    float_model = digits_small_cnn(digits, 0)
    mixed = mixed_copy(float_model, digits, [8, 6, 6, 4, 3], [8, 6, 6, 4, 3])
    config = AttackConfig(attacks=(FGSM(eps=(0.1, 0.2)), PGD(eps=(0.2,), steps=5)), large_eps_steps=5,
                          large_eps_samples=60, robustness="default", robustness_samples=60, seed=0)
    test = digits.test.head(120)
    transfer = craft_transfer_set(digits_small_cnn(digits, 1), test, config)
    return {"float": float_model, "mixed": mixed}, test, config, transfer


@pytest.mark.parametrize("kind", ["float", "mixed"])
def test_the_worst_case_of_an_honest_model(setting, kind):
    models, test, config, transfer = setting
    result = evaluate_robustness(models[kind], test, config, 10, transfer).to_dict()
    jsonschema.validate(result, ROBUSTNESS_SCHEMA)
    worst = result["worst_case"]
    labels = [component_label(c) for c in worst["components"]]
    twin = ["apgd_ce float twin"] if kind == "mixed" else []
    assert labels == ["fgsm", "pgd", "fgsm transfer", "pgd transfer", "apgd_ce", *twin, "square"]
    assert (worst["suite"], worst["eps"], worst["samples"]) == ("default", "0.2", 60)
    individual = [c["accuracy"] for c in worst["components"] if c["accuracy"] is not None]
    assert worst["accuracy"] <= worst["white_box"] <= min(individual) <= worst["clean"]
    assert worst["clean"] > 0.9 and worst["best_white_box"]["via"] in ("straight_through", "float_twin")
    # every image the worst case counts survived the PGD the report lists (on these 60 images)
    assert worst["accuracy"] <= next(c["accuracy"] for c in worst["components"] if component_label(c) == "pgd")
    checks = {c["name"]: c for c in result["checks"]}
    assert MASKING in checks and checks[MASKING]["passed"], checks[MASKING]
    assert not worst["masking_warning"]
    assert accuracy_columns(result)["worst-case 0.2"] == worst["accuracy"] == worst_case_accuracy(result)


def test_a_masked_model_raises_the_masking_warning(setting):
    models, test, config, transfer = setting
    result = evaluate_robustness(RoundedLogits(models["float"]).eval(), test, config, 10, transfer)
    worst = result.worst_case
    assert worst.masking_warning and not result.all_checks_passed
    beaten = {component_label(c) for c in worst.beating_white_box()}
    assert beaten & {"pgd transfer", "fgsm transfer", "square"}, worst.components
    assert worst.white_box > worst.accuracy + 0.2  # the gradient attacks left far too much
    check = next(c for c in result.checks if c.name == MASKING)
    assert not check.passed and check.detail.startswith("masking warning: white-box worst case ")
