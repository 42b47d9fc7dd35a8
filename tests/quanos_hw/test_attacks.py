import pytest
import torch
import torchattacks

from quanos_hw import create_model, quantizable_layers
from quanos_hw.attacks import ATTACKS, attack_dataset, fgsm, pgd
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


def test_attack_dataset_and_registry(models, mnist5k):
    data = mnist5k.test.head(100)
    adv = attack_dataset(ATTACKS.get("fgsm"), models["float"], data, batch_size=32, eps=0.1)
    assert adv.images.shape == data.images.shape and torch.equal(adv.labels, data.labels)
    assert ATTACKS.names() == ["fgsm", "pgd"]


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
