"""Every registered sensitivity metric: declared options, strict option checking, and the same
scores from a torch DataLoader as from the TensorData fast path."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from quanos_hw.data import TensorData
from quanos_hw.errors import InputError
from quanos_hw.models import quantizable_layers
from quanos_hw.sensitivity import METRICS, check_metric_options, compute_sensitivity, metric_options
from tests.quanos_hw.test_sensitivity_ans import _tiny

#: small options per metric (each is checked against what the metric declares)
OPTIONS = {"ans": {"eps": 0.1}, "hessian_trace": {"max_iter": 3, "tol": 0.0},
           "weight_noise": {"trials": 2, "relative_noise": 4.0}, "random": {}}


def test_the_options_are_the_declared_ones():
    assert METRICS.names() == sorted(OPTIONS)
    assert metric_options("ans") == {"eps": float, "max_batches": int | None, "activation": str, "batch_size": int}
    assert set(metric_options("hessian_trace")) == {"max_batches", "batch_size", "max_iter", "tol", "seed"}
    assert set(metric_options("weight_noise")) == {"max_batches", "batch_size", "relative_noise", "trials", "seed"}
    assert metric_options("random") == {"seed": int}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_misspelled_option_is_an_error_not_dropped(name):
    check_metric_options(name, OPTIONS[name])
    with pytest.raises(InputError, match=rf"sensitivity metric '{name}' has no option\(s\) epsilon"):
        compute_sensitivity(name, _tiny(), None, epsilon=0.1)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_dataloader_gives_the_same_scores_as_tensordata(name):
    torch.manual_seed(1)
    images, labels = torch.rand(20, 1, 6, 6), torch.randint(0, 3, (20,))
    model = _tiny()
    fast = compute_sensitivity(name, model, TensorData(images, labels), batch_size=8, **OPTIONS[name]) if (
        "batch_size" in metric_options(name)) else compute_sensitivity(name, model, TensorData(images, labels),
                                                                       **OPTIONS[name])
    loader = DataLoader(TensorDataset(images, labels), batch_size=8, shuffle=False)
    from_loader = compute_sensitivity(name, model, loader, **OPTIONS[name])
    assert list(from_loader) == list(fast) == quantizable_layers(model)
    assert from_loader == pytest.approx(fast, rel=1e-6, abs=1e-12)
    if name != "random":  # non-trivial scores, and the data is read: other data gives other scores
        assert any(v > 0 for v in fast.values())
        other = compute_sensitivity(name, model, DataLoader(TensorDataset(images.flip(0), (labels + 1) % 3),
                                                            batch_size=8), **OPTIONS[name])
        assert other != pytest.approx(fast, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name", ["ans", "hessian_trace", "weight_noise"])
def test_max_batches_limits_a_dataloader(name):
    torch.manual_seed(2)
    images, labels = torch.rand(24, 1, 6, 6), torch.randint(0, 3, (24,))
    model = _tiny()
    head = compute_sensitivity(name, model, TensorData(images[:16], labels[:16]), batch_size=8, **OPTIONS[name])
    loader = DataLoader(TensorDataset(images, labels), batch_size=8)
    assert compute_sensitivity(name, model, loader, max_batches=2, **OPTIONS[name]) == pytest.approx(head, rel=1e-6)


@pytest.mark.parametrize("name", ["hessian_trace", "weight_noise"])
def test_no_data_is_an_input_error(name):
    with pytest.raises(InputError, match="needs at least one batch"):
        compute_sensitivity(name, _tiny(), [], **OPTIONS[name])
