import dataclasses

import pytest
import torch
import torchattacks
from torch.utils.data import DataLoader, TensorDataset

from quanos_hw import create_model, quantizable_layers
from quanos_hw.attacks import (
    ATTACKS,
    FGSM,
    PGD,
    APGDCrossEntropy,
    APGDDifferenceOfLogitsRatio,
    AttackSpec,
    FGSMRandomStart,
    Square,
    attack_dataset,
    attack_spec,
    fgsm,
    pgd,
)
from quanos_hw.attacks.fgsm_rs import fgsm_rs
from quanos_hw.errors import InputError
from quanos_hw.quantization import calibrate_activations, set_quantization


@pytest.fixture(scope="module")
def models(trained_small_cnn, mnist5k):
    """The trained float model and a mixed-precision quantized copy of it."""
    float_model = trained_small_cnn
    mixed = create_model("small_cnn", in_channels=1, mean=mnist5k.mean, std=mnist5k.std)
    mixed.load_state_dict(float_model.state_dict(), strict=False)
    names = quantizable_layers(mixed)
    from quanos_hw.bitconfig import apply_bit_config

    apply_bit_config(mixed, {n: {"weight_bit_width": b, "act_bit_width": b2}
                             for n, b, b2 in zip(names, [8, 4, 3, 6, 5], [6, 4, 5, 3, 8])})
    calibrate_activations(mixed, [x for x, _ in mnist5k.train.batches(128, 4)])
    return {"float": float_model, "mixed": mixed}


@pytest.fixture(scope="module")
def batch(mnist5k):
    return mnist5k.test.take(torch.arange(64))


@pytest.mark.parametrize("kind", ["float", "mixed"])
@pytest.mark.parametrize("eps", [0.05, 0.1, 0.2])
def test_fgsm_equals_torchattacks_bit_for_bit(models, batch, kind, eps):
    model = models[kind]
    x, y = batch
    ours = fgsm(model, x, y, eps)
    theirs = torchattacks.FGSM(model, eps=eps)(x, y)
    assert torch.equal(ours, theirs)
    assert (ours - x).abs().max() <= eps + 1e-6 and not torch.equal(ours, x)


@pytest.mark.parametrize("kind", ["float", "mixed"])
def test_pgd_equals_torchattacks_bit_for_bit(models, batch, kind):
    model = models[kind]
    x, y = batch
    ours = pgd(model, x, y, eps=0.1, alpha=0.025, steps=10, random_start=False)
    theirs = torchattacks.PGD(model, eps=0.1, alpha=0.025, steps=10, random_start=False)(x, y)
    assert torch.equal(ours, theirs)


def test_pgd_random_start_from_the_global_rng_matches_torchattacks_too(models, batch):
    x, y = batch
    torch.manual_seed(7)
    ours = pgd(models["float"], x, y, eps=0.1, alpha=0.025, steps=3, random_start=True)
    torch.manual_seed(7)
    theirs = torchattacks.PGD(models["float"], eps=0.1, alpha=0.025, steps=3, random_start=True)(x, y)
    assert torch.equal(ours, theirs)


def test_pgd_seed_makes_the_random_start_reproducible(models, batch):
    x, y = batch
    a = pgd(models["mixed"], x, y, eps=0.1, alpha=0.025, steps=2, seed=3)
    b = pgd(models["mixed"], x, y, eps=0.1, alpha=0.025, steps=2, seed=3)
    c = pgd(models["mixed"], x, y, eps=0.1, alpha=0.025, steps=2, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a - x).abs().max() <= 0.1 + 1e-6 and a.min() >= 0 and a.max() <= 1


def test_attacks_restore_the_model_mode(models, batch):
    model = models["float"]
    model.train()
    fgsm(model, *batch, eps=0.1)
    assert model.training
    model.eval()
    pgd(model, *batch, eps=0.1, alpha=0.05, steps=1)
    assert not model.training


def test_gradients_flow_through_brevitas_quantizers(models, batch):
    x, y = batch
    adv = fgsm(models["mixed"], x, y, 0.1)
    assert (adv != x).float().mean() > 0.5  # straight-through estimation gives non-zero gradients


def test_attack_dataset_accepts_a_dataloader(models, mnist5k):
    data = mnist5k.test.head(100)
    adv = attack_dataset(fgsm, models["float"], data, batch_size=32, eps=0.1)
    assert adv.images.shape == data.images.shape and torch.equal(adv.labels, data.labels)
    loader = DataLoader(TensorDataset(data.images, data.labels), batch_size=32, shuffle=False)
    from_loader = attack_dataset(fgsm, models["float"], loader, eps=0.1)
    assert torch.equal(from_loader.images, adv.images) and torch.equal(from_loader.labels, adv.labels)


def test_fgsm_rs_equals_torchattacks_ffgsm_bit_for_bit(models, batch):
    """torchattacks draws its start as randn_like(x).uniform_(...): burn the same normals first."""
    model, (x, y) = models["mixed"], batch
    torch.manual_seed(11)
    torch.randn_like(x)
    ours = fgsm_rs(model, x, y, eps=0.1, alpha=0.125)
    torch.manual_seed(11)
    theirs = torchattacks.FFGSM(model, eps=0.1, alpha=0.125)(x, y)
    assert torch.equal(ours, theirs)
    assert torch.equal(fgsm_rs(model, x, y, eps=0.1, seed=5),  # alpha defaults to Wong et al.'s 1.25 eps
                       pgd(model, x, y, eps=0.1, alpha=0.125, steps=1, random_start=True, seed=5))


# -- the registry and the specs: every registered attack -----------------------------------------
def test_the_registry_lists_every_attack_and_its_spec():
    assert ATTACKS.names() == ["apgd_ce", "apgd_dlr", "fgsm", "fgsm_rs", "pgd", "square"]
    assert [ATTACKS.get(n) for n in ATTACKS.names()] == [APGDCrossEntropy, APGDDifferenceOfLogitsRatio, FGSM,
                                                         FGSMRandomStart, PGD, Square]
    assert {n: (ATTACKS.get(n).iterative, ATTACKS.get(n).randomized, ATTACKS.get(n).uses_gradients)
            for n in ATTACKS} == {
        "apgd_ce": (True, True, True), "apgd_dlr": (True, True, True), "fgsm": (False, False, True),
        "fgsm_rs": (False, True, True), "pgd": (True, True, True), "square": (True, True, False)}


#: parameters that keep each attack to a fraction of a second here (the defaults are AutoAttack's)
FAST = {"apgd_ce": {"steps": 5}, "apgd_dlr": {"steps": 5}, "square": {"queries": 10}}


@pytest.mark.parametrize("name", ATTACKS.names())
def test_every_attack_stays_in_its_budget_and_restores_the_mode(models, batch, name):
    spec = attack_spec({"name": name, "eps": [0.05, 0.1], **FAST.get(name, {})})
    assert isinstance(spec, AttackSpec) and spec.name == name and spec.eps == (0.05, 0.1)
    model, (x, y) = models["mixed"], batch
    model.train()
    adv = spec.perturb(model, x, y, eps=0.05, seed=0)
    assert model.training
    model.eval()
    assert (adv - x).abs().max() <= 0.05 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert (adv != x).float().mean() > 0.3
    assert torch.equal(adv, spec.perturb(model, x, y, eps=0.05, seed=0))  # reproducible from the seed
    clean = (model(x).argmax(1) == y).float().mean()
    assert (model(spec.perturb(model, x, y, eps=0.1, seed=0)).argmax(1) == y).float().mean() < clean


@pytest.mark.parametrize("name", ATTACKS.names())
def test_every_spec_round_trips_through_its_config_mapping(name):
    spec = attack_spec({"name": name, "eps": 0.1})
    assert spec.eps == (0.1,)
    raw = spec.to_dict()
    assert raw["name"] == name and raw["eps"] == [0.1]
    assert attack_spec(raw) == spec and hash(attack_spec(raw)) == hash(spec)
    large = spec.at_large_eps(0.5, 7)
    assert type(large) is type(spec) and large.eps == (0.5,)


@pytest.mark.parametrize("name", ATTACKS.names())
@pytest.mark.parametrize("raw, match", [
    ({"eps": [0.1], "strength": 3}, r"has no parameter\(s\) \['strength'\]; its parameters: \[.*'eps'"),
    ({}, r"needs parameter\(s\) \['eps'\]"),
    ({"eps": []}, "eps needs at least one value"),
    ({"eps": [0.1, 1.5]}, "eps must be between 0 and 1"),
    ({"eps": [0.1, 0.1]}, "eps values must be distinct"),
])
def test_bad_spec_parameters_are_input_errors(name, raw, match):
    with pytest.raises(InputError, match=f"attack '{name}'.*" + match):
        attack_spec({"name": name, **raw})


@pytest.mark.parametrize("raw, match", [
    ({"name": "pgd", "eps": [0.1], "steps": 0}, "steps must be a positive integer"),
    ({"name": "pgd", "eps": [0.1], "alpha": 2.0}, "alpha must be between 0 and 1"),
    ({"name": "pgd", "eps": [0.1], "random_start": "yes"}, "random_start must be true or false"),
    ({"name": "fgsm_rs", "eps": [0.9]}, r"alpha must be between 0 and 1 .*got 1.125"),
    ({"name": "fgsm_rs", "eps": [0.1], "seed": 1.5}, "seed must be an integer or null"),
    ({"name": "apgd_ce", "eps": [0.1], "steps": 0}, "attack 'apgd_ce' steps must be a positive integer"),
    ({"name": "apgd_dlr", "eps": [0.1], "restarts": 0}, "attack 'apgd_dlr' restarts must be a positive integer"),
    ({"name": "apgd_ce", "eps": [0.1], "restarts": 101}, "attack 'apgd_ce' restarts must be between 1 and 100"),
    ({"name": "apgd_ce", "eps": [0.1], "eps_step": 1.5}, "attack 'apgd_ce' eps_step must be between 0 and 1"),
    ({"name": "square", "eps": [0.1], "queries": 0}, "attack 'square' queries must be a positive integer"),
    ({"name": "square", "eps": [0.1], "queries": 10**6}, "attack 'square' queries must be between 1 and 100000"),
    ({"name": "square", "eps": [0.1], "p_init": 0}, r"attack 'square' p_init must be > 0 and <= 1, got 0"),
    ({"name": "square", "eps": [0.1], "p_init": "big"}, "attack 'square' p_init must be a number"),
    ({"name": "square", "eps": [0.1], "seed": -1}, "attack 'square': seed must be between 0 and"),
    ({"name": "cw", "eps": [0.1]}, "unknown attack 'cw'; choose one of: apgd_ce, apgd_dlr, fgsm, fgsm_rs, pgd, square"),
    ({"eps": [0.1]}, "must be a mapping with a 'name'"),
])
def test_bad_attack_specific_parameters(raw, match):
    with pytest.raises(InputError, match=match):
        attack_spec(raw)


def test_pgd_spec_defaults_and_its_large_eps_form(models, batch):
    spec = PGD(eps=(0.1,), steps=3)
    x, y = batch
    assert torch.equal(spec.perturb(models["float"], x, y, eps=0.1, seed=2),  # alpha = eps / 4, evaluation seed
                       pgd(models["float"], x, y, eps=0.1, alpha=0.025, steps=3, seed=2))
    pinned = dataclasses.replace(spec, seed=9)
    assert torch.equal(pinned.perturb(models["float"], x, y, eps=0.1, seed=2),  # its own seed wins
                       pgd(models["float"], x, y, eps=0.1, alpha=0.025, steps=3, seed=9))
    assert spec.at_large_eps(0.5, 10) == PGD(eps=(0.5,), alpha=0.125, steps=10, random_start=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-0.1), "eps must be between 0 and 1"),
    (dict(eps=1.5), "eps must be between 0 and 1"),
    (dict(eps="x"), "eps must be a number"),
])
def test_bad_eps(models, batch, kwargs, match):
    with pytest.raises(InputError, match=match):
        fgsm(models["float"], *batch, **kwargs)


def test_bad_pgd_steps(models, batch):
    with pytest.raises(InputError, match="steps must be a positive integer"):
        pgd(models["float"], *batch, eps=0.1, alpha=0.01, steps=0)


def test_float_mode_and_quantized_attacks_differ(models, batch):
    x, y = batch
    mixed = models["mixed"]
    set_quantization(mixed, False)
    a = fgsm(mixed, x, y, 0.1)
    set_quantization(mixed, True)
    b = fgsm(mixed, x, y, 0.1)
    assert not torch.equal(a, b)
