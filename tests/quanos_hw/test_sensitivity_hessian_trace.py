"""hessian_trace / hutchinson against the exact Hessian of a small network (torch.autograd.functional
on an independent forward written with torch.nn.functional)."""

import math

import pytest
import torch
import torch.nn.functional as F

from quanos_hw.data import TensorData
from quanos_hw.sensitivity import hessian_trace, hutchinson
from tests.quanos_hw.test_sensitivity_ans import _tiny

LAYERS = ("c1", "c2", "fc")


def _exact_hessian(model, data):
    """The Hessian of the mean cross-entropy over ``data`` w.r.t. the three layers' weights,
    concatenated in layer order, and the slices of each layer."""
    weights = [getattr(model, n).op.weight.detach() for n in LAYERS]
    sizes = [w.numel() for w in weights]
    x, y = data.images, data.labels

    def loss(flat):
        w1, w2, w3 = (part.view_as(w) for part, w in zip(flat.split(sizes), weights))
        h = (x - model.normalize.mean) / model.normalize.std
        for layer, w, stride in ((model.c1, w1, 1), (model.c2, w2, 2)):
            bn = layer.norm
            h = F.conv2d(h, w, stride=stride, padding=1)
            h = F.relu(F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))
        out = F.linear(h.mean(dim=(2, 3)), w3, model.fc.op.bias)
        return F.cross_entropy(out, y)

    flat = torch.cat([w.flatten() for w in weights])
    H = torch.autograd.functional.hessian(loss, flat, vectorize=True).double()
    bounds = [0, *torch.tensor(sizes).cumsum(0).tolist()]
    return H, [slice(a, b) for a, b in zip(bounds, bounds[1:])]


@pytest.fixture(scope="module")
def setup():
    model = _tiny()
    torch.manual_seed(3)
    data = TensorData(torch.rand(20, 1, 6, 6), torch.randint(0, 3, (20,)))
    H, slices = _exact_hessian(model, data)
    return model, data, H, slices


def test_each_step_is_the_exact_quadratic_form_of_its_rademacher_vector(setup):
    """With the same Rademacher vectors, the estimate equals mean_v v_l^T (H v)_l of the exact H
    (batches of 8, 8 and 4 samples: the per-batch losses must be weighted to the mean loss)."""
    model, data, H, slices = setup
    iterations = 5
    ours = hutchinson(model, data, batch_size=8, max_iter=iterations, tol=0.0, seed=7)
    assert ours.hessian_vector_products == iterations
    generator = torch.Generator().manual_seed(7)
    sums = torch.zeros(len(LAYERS), dtype=torch.float64)
    for _ in range(iterations):
        v = torch.cat([(torch.randint(0, 2, getattr(model, n).op.weight.shape, generator=generator).float() * 2 - 1)
                       .flatten() for n in LAYERS]).double()
        hv = H @ v
        sums += torch.tensor([float(v[s] @ hv[s]) for s in slices])
    expected = sums / iterations
    assert [ours.traces[n] for n in LAYERS] == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-7)


def _assert_within_4_standard_errors(ours, H, slices, n):
    """Hutchinson is unbiased; with N Rademacher vectors the variance of the mean of
    v_l^T (H v)_l is (4 * sum_{i<j in l} H_ij^2 + sum_{i in l, j not in l} H_ij^2) / N."""
    for name, s in zip(LAYERS, slices):
        block = H[s, s]
        off = block - torch.diag(torch.diag(block))
        variance = 2 * float((off ** 2).sum()) + float((H[s] ** 2).sum() - (block ** 2).sum())
        assert abs(ours.traces[name] - float(block.trace())) <= 4 * math.sqrt(variance / n) + 1e-9, name


def test_the_estimate_converges_to_the_exact_trace(setup):
    model, data, H, slices = setup
    n = 100
    ours = hutchinson(model, data, batch_size=10, max_iter=n, tol=0.0, seed=0)
    _assert_within_4_standard_errors(ours, H, slices, n)
    assert all(abs(float(H[s, s].trace())) > 1e-4 for s in slices)  # a non-trivial Hessian


def test_the_score_is_the_clipped_trace_per_weight(setup):
    model, data, _, _ = setup
    traces = hutchinson(model, data, batch_size=8, max_iter=4, tol=0.0, seed=2).traces
    scores = hessian_trace(model, data, batch_size=8, max_iter=4, tol=0.0, seed=2)
    for name in LAYERS:
        weights = getattr(model, name).op.weight.numel()
        assert scores[name] == pytest.approx(max(0.0, traces[name]) / weights)


def test_a_quadratic_point_with_a_closed_form_trace():
    """At zero output weights and bias every logit is 0 and p is uniform over C = 3 classes; the
    cross-entropy Hessian w.r.t. the output weights is (diag(p) - p p^T) (x) h h^T, whose trace is
    (1 - 1/C) * ||h||^2 for features h (one constant input, so h is the same for every sample)."""
    model = _tiny()
    with torch.no_grad():
        model.fc.op.weight.zero_()
        model.fc.op.bias.zero_()
    x = torch.full((4, 1, 6, 6), 0.5)
    data = TensorData(x, torch.tensor([0, 1, 2, 0]))
    with torch.no_grad():
        h = model.pool(model.c2(model.c1(model.normalize(x))))[0]
    H, slices = _exact_hessian(model, data)
    assert float(H[slices[2], slices[2]].trace()) == pytest.approx((1 - 1 / 3) * float((h ** 2).sum()), rel=1e-5)
    n = 200
    _assert_within_4_standard_errors(hutchinson(model, data, max_iter=n, tol=0.0, seed=1), H, slices, n)


def test_stops_when_the_running_mean_settles(setup):
    model, data, _, _ = setup
    result = hutchinson(model, data, batch_size=8, max_iter=100, tol=0.2)
    assert 2 <= result.hessian_vector_products < 100
