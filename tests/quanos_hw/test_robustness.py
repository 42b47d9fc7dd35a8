import json

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from quanos_hw import TrainConfig, create_model, train
from quanos_hw.attacks import FGSM, PGD, FGSMRandomStart
from quanos_hw.data import dataset_info
from quanos_hw.errors import InputError
from quanos_hw.robustness import (
    AttackConfig,
    ProbeResult,
    accuracy_columns,
    craft_transfer_set,
    evaluate_robustness,
    reference_accuracy,
    reference_label,
    sanity_checks,
)

CHECKS = ["iterative_not_weaker_than_single_step", "large_eps_near_chance", "blackbox_not_stronger_than_whitebox",
          "accuracy_monotone_in_eps"]
#: with a transfer set the worst case also has components to compare with the white-box ones
CHECKS_WITH_TRANSFER = [*CHECKS, "whitebox_not_beaten_by_gradient_free_or_transfer"]


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
    info = dataset_info("mnist5k")
    return AttackConfig.for_dataset(info, attacks=(FGSM(eps=info.fgsm_eps), PGD(eps=(0.1,), alpha=0.025, steps=5)),
                                    large_eps_steps=5)


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
    white = {name: a.white_box for name, a in result.attacks.items()}
    fgsm = [white["fgsm"][k] for k in ("0.05", "0.1", "0.2")]
    assert list(white["fgsm"]) == ["0.05", "0.1", "0.2"] and list(white["pgd"]) == ["0.1"]
    assert fgsm == sorted(fgsm, reverse=True) and fgsm[0] < result.clean
    assert white["pgd"]["0.1"] <= white["fgsm"]["0.1"]
    assert result.large_eps == ProbeResult("pgd", 0.5, 5, 200, result.large_eps.accuracy)
    assert result.large_eps.accuracy <= 0.2
    assert result.attacks["pgd"].black_box["0.1"] >= white["pgd"]["0.1"]
    assert result.all_checks_passed, result.checks
    assert [c.name for c in result.checks] == CHECKS_WITH_TRANSFER
    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["all_checks_passed"] is True and as_json["reference"] == {"attack": "pgd", "eps": "0.1"}
    assert as_json["attacks"]["pgd"]["params"] == {"name": "pgd", "eps": [0.1], "alpha": 0.025, "steps": 5,
                                                   "random_start": True, "seed": None}
    assert reference_label(as_json) == "pgd 0.1" and reference_accuracy(as_json) == white["pgd"]["0.1"]
    assert accuracy_columns(as_json) == {
        "clean": result.clean, "fgsm 0.05": fgsm[0], "fgsm 0.1": fgsm[1], "fgsm 0.2": fgsm[2],
        "pgd 0.1": white["pgd"]["0.1"], "black-box pgd 0.1": result.attacks["pgd"].black_box["0.1"],
        "worst-case 0.1": result.worst_case.accuracy}
    # no suite (the API's default): the worst case over the configured attacks, white-box and
    # transferred, on every image; an image survives PGD at least as often as it survives all of them
    worst = as_json["worst_case"]
    assert (worst["suite"], worst["samples"], worst["eps"]) == (None, len(test_set), "0.1")
    assert [(c["attack"], c["via"]) for c in worst["components"]] == [
        ("fgsm", "straight_through"), ("pgd", "straight_through"), ("fgsm", "transfer"), ("pgd", "transfer")]
    assert worst["accuracy"] <= worst["white_box"] <= white["pgd"]["0.1"] + 1e-6


def test_gradient_masking_fails_the_checks_and_the_report_says_so(trained_small_cnn, surrogate, test_set, config):
    masked = StepMasked(trained_small_cnn)
    transfer = craft_transfer_set(surrogate, test_set, config)
    result = evaluate_robustness(masked, test_set, config, num_classes=10, transfer=transfer)
    failed = {c.name: c.detail for c in result.checks if not c.passed}
    assert "large_eps_near_chance" in failed and "blackbox_not_stronger_than_whitebox" in failed
    assert result.attacks["fgsm"].white_box["0.2"] == pytest.approx(result.clean, abs=0.01)  # no gradient
    assert result.to_dict()["all_checks_passed"] is False
    assert failed["blackbox_not_stronger_than_whitebox"].startswith("black-box beats white-box: ")
    assert "pgd " in failed["blackbox_not_stronger_than_whitebox"]


def test_a_new_attack_is_evaluated_and_checked_like_the_others(trained_small_cnn, surrogate, test_set):
    """fgsm_rs (one file + its registration) goes through evaluation, transfer and every check."""
    config = AttackConfig(attacks=({"name": "fgsm_rs", "eps": [0.05, 0.2]}, {"name": "pgd", "eps": [0.1],
                                                                           "steps": 5}),
                          large_eps_steps=5, large_eps_samples=100)
    assert config.eps_grid() == {"fgsm_rs": (0.05, 0.1, 0.2), "pgd": (0.1,)}
    transfer = craft_transfer_set(surrogate, test_set, config)
    result = evaluate_robustness(trained_small_cnn, test_set, config, num_classes=10, transfer=transfer)
    rs = result.attacks["fgsm_rs"]
    assert not rs.iterative and list(rs.white_box) == ["0.05", "0.1", "0.2"] and list(rs.black_box) == list(
        rs.white_box)
    assert rs.white_box["0.05"] > rs.white_box["0.2"] and rs.white_box["0.05"] < result.clean
    assert result.attacks["pgd"].white_box["0.1"] <= rs.white_box["0.1"]
    assert [c.name for c in result.checks] == CHECKS_WITH_TRANSFER and result.all_checks_passed, result.checks
    assert result.checks[0].detail.startswith("pgd ") and "vs fgsm_rs " in result.checks[0].detail


def test_checks_with_nothing_to_compare_are_left_out(trained_small_cnn, test_set):
    config = AttackConfig(attacks=(FGSM(eps=(0.1,)),), large_eps_samples=50)
    result = evaluate_robustness(trained_small_cnn, test_set.head(100), config, num_classes=10)
    assert [c.name for c in result.checks] == ["large_eps_near_chance"]
    assert result.large_eps.attack == "fgsm" and result.reference == {"attack": "fgsm", "eps": "0.1"}
    assert result.attacks["fgsm"].black_box is None and accuracy_columns(result.to_dict())["black-box fgsm 0.1"] is None


def test_a_dataloader_gives_the_same_result_as_tensor_data(trained_small_cnn, surrogate, test_set):
    data = test_set.head(120)
    config = AttackConfig(attacks=(FGSM(eps=(0.1, 0.2)), PGD(eps=(0.1,), steps=2)), large_eps_steps=2,
                          large_eps_samples=40, batch_size=50)
    loader = DataLoader(TensorDataset(data.images, data.labels), batch_size=32, shuffle=False)
    transfer = craft_transfer_set(surrogate, data, config)
    from_loader = craft_transfer_set(surrogate, loader, config)
    for name, by_eps in transfer.adversarial.items():
        for key, adv in by_eps.items():
            assert torch.equal(adv.images, from_loader.adversarial[name][key].images)
    expected = evaluate_robustness(trained_small_cnn, data, config, 10, transfer).to_dict()
    assert evaluate_robustness(trained_small_cnn, loader, config, 10, from_loader).to_dict() == expected
    with pytest.raises(InputError, match=r"the transfer set holds \[120\] images, the test data 60"):
        evaluate_robustness(trained_small_cnn, data.head(60), config, 10, transfer)


def _probe(accuracy: float) -> ProbeResult:
    return ProbeResult("pgd", 0.5, 10, 200, accuracy)


def test_check_logic_on_numbers():
    cfg = AttackConfig(attacks=(FGSM(eps=(0.05, 0.1)), FGSMRandomStart(eps=(0.1,)), PGD(eps=(0.1,))))
    white = {"fgsm": {"0.05": 0.5, "0.1": 0.7}, "fgsm_rs": {"0.1": 0.75}, "pgd": {"0.1": 0.8}}
    black = {"fgsm": {"0.05": 0.2, "0.1": 0.75}, "fgsm_rs": {"0.1": 0.75}, "pgd": {"0.1": 0.1}}
    checks = {c.name: c for c in sanity_checks(cfg, 10, white, _probe(0.5), black)}
    assert {n: c.passed for n, c in checks.items()} == dict.fromkeys(CHECKS, False)
    assert checks["iterative_not_weaker_than_single_step"].detail == (
        "pgd 0.800 vs fgsm 0.700 at eps 0.1; pgd 0.800 vs fgsm_rs 0.750 at eps 0.1")
    assert checks["blackbox_not_stronger_than_whitebox"].detail == (
        "black-box beats white-box: fgsm 0.200 vs 0.500 at eps 0.05; pgd 0.100 vs 0.800 at eps 0.1")
    assert checks["accuracy_monotone_in_eps"].detail == "fgsm by increasing eps: 0.500, 0.700"
    white = {"fgsm": {"0.05": 0.7, "0.1": 0.5}, "fgsm_rs": {"0.1": 0.505}, "pgd": {"0.1": 0.51}}
    black = {"fgsm": {"0.05": 0.8, "0.1": 0.6}, "fgsm_rs": {"0.1": 0.6}, "pgd": {"0.1": 0.5}}
    checks = sanity_checks(cfg, 10, white, _probe(0.2), black)  # within the 0.01 tolerance everywhere
    assert [c.name for c in checks] == CHECKS and all(c.passed for c in checks)
    assert not sanity_checks(cfg, 10, white, _probe(0.21), black)[1].passed  # chance 0.1 + margin 0.1


def test_eps_grid_and_reference():
    cfg = AttackConfig(attacks=({"name": "fgsm", "eps": [0.2, 0.05]}, {"name": "pgd", "eps": [0.1, 0.3]}))
    assert cfg.eps_grid() == {"fgsm": (0.05, 0.1, 0.2, 0.3), "pgd": (0.1, 0.3)}
    assert cfg.reference.name == "pgd"
    only_single = AttackConfig(attacks=(FGSMRandomStart(eps=(0.1,)), FGSM(eps=(0.2,))))
    assert only_single.eps_grid() == {"fgsm_rs": (0.1,), "fgsm": (0.2,)} and only_single.reference.name == "fgsm_rs"


@pytest.mark.parametrize("kwargs, match", [
    (dict(attacks=()), "attacks must be a non-empty list"),
    (dict(attacks=(FGSM(eps=(0.1,)), {"name": "fgsm", "eps": [0.2]})), r"attack\(s\) \['fgsm'\] listed more than once"),
    (dict(attacks=({"name": "pgd", "eps": [0.1], "steps": 0},)), "attack 'pgd' steps must be a positive integer"),
    (dict(attacks=({"name": "deepfool", "eps": [0.1]},)), "unknown attack 'deepfool'"),
    (dict(attacks=(FGSM(eps=(0.1,)),), large_eps=2.0), "large_eps must be between 0 and 1"),
    (dict(attacks=(FGSM(eps=(0.1,)),), large_eps_steps=0), "large_eps_steps must be a positive integer"),
])
def test_bad_attack_config(kwargs, match):
    with pytest.raises(InputError, match=match):
        AttackConfig(**kwargs)
