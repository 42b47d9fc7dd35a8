import json

import pytest
import torch
from torch import nn

from quanos_hw import TrainConfig, create_model, train
from quanos_hw.data import dataset_info
from quanos_hw.errors import InputError
from quanos_hw.robustness import AttackConfig, craft_transfer_set, evaluate_robustness, sanity_checks


@pytest.fixture(scope="module")
def surrogate(mnist5k):
    torch.manual_seed(1)
    model = create_model("small_cnn", in_channels=1, quantize=False, mean=mnist5k.mean, std=mnist5k.std)
    train(model, mnist5k.train, TrainConfig(epochs=2, lr=0.05, seed=1, augment="shift"), progress=False)
    return model


@pytest.fixture(scope="module")
def test_set(mnist5k):
    return mnist5k.test.head(300)


@pytest.fixture(scope="module")
def config():
    return AttackConfig.for_dataset(dataset_info("mnist5k"), pgd_steps=5, large_eps_steps=5)


class StepMasked(nn.Module):
    """A model whose gradient is zero everywhere: a rounding step before the classifier."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        h = self.inner.features(self.inner.normalize(x))
        h = torch.round(h * 8) / 8  # non-differentiable step: d/dh = 0
        return self.inner.classifier(h)


def test_honest_model_passes_the_sanity_checks(trained_small_cnn, surrogate, test_set, config):
    transfer = craft_transfer_set(surrogate, test_set, config)
    result = evaluate_robustness(trained_small_cnn, test_set, config, num_classes=10, transfer=transfer)
    assert result.clean > 0.9
    fgsm = [result.fgsm[k] for k in sorted(result.fgsm, key=float)]
    assert fgsm == sorted(fgsm, reverse=True) and fgsm[0] < result.clean
    assert result.pgd <= result.fgsm["0.1"]
    assert result.large_eps_accuracy <= 0.2
    assert result.blackbox_pgd >= result.pgd
    assert result.all_checks_passed, result.checks
    assert [c.name for c in result.checks] == [
        "pgd_not_weaker_than_fgsm", "large_eps_near_chance", "blackbox_not_stronger_than_whitebox",
        "fgsm_monotone_in_eps"]
    assert json.loads(json.dumps(result.to_dict()))["all_checks_passed"] is True


def test_gradient_masking_fails_the_checks_and_the_report_says_so(trained_small_cnn, surrogate, test_set, config):
    masked = StepMasked(trained_small_cnn)
    transfer = craft_transfer_set(surrogate, test_set, config)
    result = evaluate_robustness(masked, test_set, config, num_classes=10, transfer=transfer)
    failed = {c.name: c.detail for c in result.checks if not c.passed}
    assert "large_eps_near_chance" in failed and "blackbox_not_stronger_than_whitebox" in failed
    assert result.fgsm["0.2"] == pytest.approx(result.clean, abs=0.01)  # FGSM sees no gradient
    assert result.to_dict()["all_checks_passed"] is False
    assert "black-box PGD" in failed["blackbox_not_stronger_than_whitebox"]


def test_check_logic_on_numbers():
    cfg = AttackConfig(fgsm_eps=(0.05, 0.1), pgd_eps=0.1)
    checks = {c.name: c.passed for c in sanity_checks(cfg, 10, {"0.05": 0.5, "0.1": 0.7}, 0.8, 0.5,
                                                        {"0.05": 0.2, "0.1": 0.3}, 0.1)}
    assert checks == {"pgd_not_weaker_than_fgsm": False, "large_eps_near_chance": False,
                      "blackbox_not_stronger_than_whitebox": False, "fgsm_monotone_in_eps": False}
    checks = {c.name: c.passed for c in sanity_checks(cfg, 10, {"0.05": 0.7, "0.1": 0.5}, 0.3, 0.15,
                                                        {"0.05": 0.8, "0.1": 0.6}, 0.5)}
    assert all(checks.values())


def test_pgd_eps_is_added_to_the_fgsm_list():
    assert AttackConfig(fgsm_eps=(0.05, 0.2), pgd_eps=0.1).eps_list == (0.05, 0.1, 0.2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(fgsm_eps=()), "at least one eps"),
    (dict(fgsm_eps=(0.1, 2.0)), "fgsm_eps must be between 0 and 1"),
    (dict(pgd_eps=-0.1), "pgd_eps must be between 0 and 1"),
    (dict(pgd_steps=0), "pgd_steps must be a positive integer"),
])
def test_bad_attack_config(kwargs, match):
    with pytest.raises(InputError, match=match):
        AttackConfig(**kwargs)
