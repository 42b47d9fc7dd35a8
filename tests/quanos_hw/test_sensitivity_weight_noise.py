"""weight_noise: the accuracy lost per layer under relative Gaussian weight noise."""

import pytest
import torch

from quanos_hw.models import quantizable_layers
from quanos_hw.quantization import quant_layers
from quanos_hw.sensitivity import weight_noise


def _weights(model):
    return {name: layer.op.weight.detach().clone() for name, layer in quant_layers(model).items()}


def test_no_noise_scores_zero_and_restores_the_weights_and_mode(trained_small_cnn, mnist5k):
    before = _weights(trained_small_cnn)
    trained_small_cnn.train()
    scores = weight_noise(trained_small_cnn, mnist5k.test, max_batches=2, relative_noise=0.0, trials=1)
    assert trained_small_cnn.training
    trained_small_cnn.eval()
    assert list(scores) == quantizable_layers(trained_small_cnn)
    assert set(scores.values()) == {0.0}
    after = _weights(trained_small_cnn)
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_noise_as_large_as_the_weights_costs_accuracy_and_grows_with_the_noise(trained_small_cnn, mnist5k):
    before = _weights(trained_small_cnn)
    small = weight_noise(trained_small_cnn, mnist5k.test, max_batches=2, relative_noise=0.1, trials=3, seed=0)
    large = weight_noise(trained_small_cnn, mnist5k.test, max_batches=2, relative_noise=2.0, trials=3, seed=0)
    assert all(torch.equal(before[n], w) for n, w in _weights(trained_small_cnn).items())
    assert all(0.0 <= v <= 1.0 for v in (*small.values(), *large.values()))
    # noise twice the weights' norm wrecks a trained layer (10 classes: chance is 10 %)
    assert all(v > 0.3 for v in large.values()), large
    assert sum(large.values()) > sum(small.values()) + 1.0


def test_an_independent_computation(trained_small_cnn, mnist5k):
    """The same seeded noise drawn and measured by hand: per layer, `trials` draws of noise scaled to
    relative_noise * ||W||, the accuracy drop each time, averaged and clipped at 0."""
    data = mnist5k.test.head(200)
    x, y = data.images.float() / 255 if data.images.dtype == torch.uint8 else data.images, data.labels
    ours = weight_noise(trained_small_cnn, data, batch_size=200, relative_noise=0.3, trials=2, seed=5)
    generator = torch.Generator().manual_seed(5)
    model = trained_small_cnn.eval()
    with torch.no_grad():
        base = int((model(x).argmax(1) == y).sum()) / len(y)
        expected = {}
        for name, layer in quant_layers(model).items():
            w = layer.op.weight
            original = w.clone()
            drops = []
            for _ in range(2):
                noise = torch.randn(w.shape, generator=generator)
                w.copy_(original + noise * (0.3 * original.norm() / noise.norm()))
                drops.append(base - int((model(x).argmax(1) == y).sum()) / len(y))
            w.copy_(original)
            expected[name] = max(0.0, sum(drops) / 2)
    assert ours == pytest.approx(expected, abs=1e-9)
    assert any(v > 0 for v in ours.values())


def test_seeded(trained_small_cnn, mnist5k):
    a = weight_noise(trained_small_cnn, mnist5k.test, max_batches=1, relative_noise=1.0, trials=1, seed=3)
    b = weight_noise(trained_small_cnn, mnist5k.test, max_batches=1, relative_noise=1.0, trials=1, seed=3)
    assert a == b
