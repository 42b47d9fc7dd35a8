import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quanos_hw import adversarial_noise_sensitivity, quantizable_layers
from quanos_hw.data import TensorData
from quanos_hw.errors import InputError
from quanos_hw.layers import conv_layer, linear_layer
from quanos_hw.models.base import QuanosModel
from quanos_hw.quantization import set_quantization


class Tiny(QuanosModel):
    def __init__(self):
        super().__init__(1)
        self.c1 = conv_layer(1, 3, 3, padding=1)
        self.c2 = conv_layer(3, 4, 3, stride=2, padding=1)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = linear_layer(4, 3)

    def forward_features(self, x):
        return self.fc(self.pool(self.c2(self.c1(x))))


def _tiny():
    torch.manual_seed(0)
    model = Tiny()
    set_quantization(model, False)
    for bn in (model.c1.norm, model.c2.norm):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _by_hand(model, x, y, eps, point):
    """Independent forward (torch.nn.functional), FGSM and ANS formula."""
    def forward(inp):
        acts = {}
        h = (inp - model.normalize.mean) / model.normalize.std
        for name, layer, stride in (("c1", model.c1, 1), ("c2", model.c2, 2)):
            h = F.conv2d(h, layer.op.weight, stride=stride, padding=1)
            bn = layer.norm
            h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
            acts[name] = h if point == "pre" else F.relu(h)
            h = F.relu(h)
        h = h.mean(dim=(2, 3))
        out = F.linear(h, model.fc.op.weight, model.fc.op.bias)
        acts["fc"] = out
        return out, acts

    xg = x.clone().requires_grad_(True)
    loss = F.cross_entropy(forward(xg)[0], y)
    (grad,) = torch.autograd.grad(loss, xg)
    x_adv = (x + eps * grad.sign()).clamp(0, 1)
    with torch.no_grad():
        _, clean = forward(x)
        _, adv = forward(x_adv)
    result = {}
    for name in clean:
        num = torch.sqrt(((adv[name] - clean[name]) ** 2).sum(dim=tuple(range(1, clean[name].dim()))))
        den = torch.sqrt((clean[name] ** 2).sum(dim=tuple(range(1, clean[name].dim()))))
        result[name] = float((num / den).mean())
    return result


@pytest.mark.parametrize("point", ["post", "pre"])
def test_ans_equals_an_independent_computation(point):
    model = _tiny()
    torch.manual_seed(1)
    data = TensorData(torch.rand(20, 1, 6, 6), torch.randint(0, 3, (20,)))
    ours = adversarial_noise_sensitivity(model, data, eps=0.1, activation=point, batch_size=8)
    x, y = data.images, data.labels
    theirs = _by_hand(model, x, y, 0.1, point)
    assert list(ours) == quantizable_layers(model) == ["c1", "c2", "fc"]
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert all(v > 0 for v in ours.values())


def test_ans_is_exactly_zero_at_eps_zero(trained_small_cnn, mnist5k):
    ans = adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=0.0, max_batches=2)
    assert set(ans.values()) == {0.0}


def test_ans_grows_with_eps_on_a_trained_small_cnn(trained_small_cnn, mnist5k):
    small = adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=0.01, max_batches=4)
    large = adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=0.1, max_batches=4)
    assert list(large) == quantizable_layers(trained_small_cnn)
    assert all(large[k] > small[k] for k in large)
    # the design's measurement: ANS grows with depth (input -> output)
    values = list(large.values())
    assert values[-1] > values[0]


def test_ans_is_deterministic_and_restores_mode(trained_small_cnn, mnist5k):
    trained_small_cnn.train()
    a = adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=0.1, max_batches=2)
    assert trained_small_cnn.training
    b = adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=0.1, max_batches=2)
    trained_small_cnn.eval()
    assert a == b


def test_dead_layer_is_guarded():
    model = _tiny()
    with torch.no_grad():
        model.c1.norm.bias.fill_(-100.0)  # ReLU output is zero for every input
    data = TensorData(torch.rand(8, 1, 6, 6), torch.randint(0, 3, (8,)))
    ans = adversarial_noise_sensitivity(model, data, eps=0.1)
    assert ans["c1"] == 0.0 and all(v == v for v in ans.values())  # no NaN


def test_bad_arguments(trained_small_cnn, mnist5k):
    with pytest.raises(InputError, match="activation must be one of"):
        adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=0.1, activation="mid", max_batches=1)
    with pytest.raises(InputError, match="eps must be between 0 and 1"):
        adversarial_noise_sensitivity(trained_small_cnn, mnist5k.test, eps=-1, max_batches=1)
