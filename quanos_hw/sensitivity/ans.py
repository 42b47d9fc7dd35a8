"""ANS, the Adversarial Noise Sensitivity of each layer (Panda, QUANOS, arXiv 2004.11233, Eq. 1).

    ANS_l = mean over samples of || a_l(x_adv) - a_l(x) ||_2 / max(|| a_l(x) ||_2, 1e-12)

a_l is the float tensor the layer's activation quantizer sees (after BN, residual add and
ReLU; ``activation="pre"``: before the ReLU); x_adv = FGSM(model, x, y, eps) on the same model
in eval mode. The norm is over each sample's whole activation tensor; the ratio is averaged
over every sample of the batches used. A dead layer (a_l(x) = 0) is guarded by the 1e-12 floor:
it scores 0 when its adversarial activation is also 0, and a very large ANS otherwise.

Cost: one FGSM gradient pass and two forward passes per batch.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks import check_eps, eval_mode, fgsm
from ..data import Batches, iter_batches
from .base import batch_count, capture_activations

DENOMINATOR_FLOOR = 1e-12


def adversarial_noise_sensitivity(
    model: nn.Module,
    data: Batches,
    eps: float,
    max_batches: int | None = None,
    activation: str = "post",
    batch_size: int = 128,
    progress: bool = False,
) -> dict[str, float]:
    """ANS per quantizable layer; keys are exactly ``quantizable_layers(model)``.

    Deterministic: the first ``max_batches`` batches of ``data`` in order (all when None); a
    DataLoader is read with its own batch size (``batch_size`` cuts a TensorData).
    """
    eps = check_eps(eps)
    totals: dict[str, float] = {}
    count = 0
    device = next(model.parameters()).device
    with eval_mode(model), torch.no_grad():
        for x, y in tqdm(iter_batches(data, batch_size, max_batches), total=batch_count(data, batch_size, max_batches),
                         desc="ANS", disable=not progress, leave=False):
            x, y = x.to(device), y.to(device)
            with torch.enable_grad():
                x_adv = fgsm(model, x, y, eps)
            with capture_activations(model, activation) as clean:
                model(x)
            with capture_activations(model, activation) as adv:
                model(x_adv)
            for name, a in clean.items():
                diff = (adv[name] - a).flatten(1).norm(dim=1)
                ratio = diff / a.flatten(1).norm(dim=1).clamp_min(DENOMINATOR_FLOOR)
                totals[name] = totals.get(name, 0.0) + float(ratio.double().sum())
            count += len(y)
    if count == 0:
        raise ValueError("ANS needs at least one sample")
    return {name: total / count for name, total in totals.items()}
