"""APGD-DLR, Auto-PGD on the Difference of Logits Ratio loss (Croce & Hein, ICML 2020), L-inf,
untargeted:

    DLR(z, y) = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)

with z_pi1 >= z_pi2 >= z_pi3 the largest logits (fra31/auto-attack autoattack/autopgd_base.py,
``APGDAttack.dlr_loss``, commit a39220048b3c9f2cca9a4d3a54604793c68eca7e). Invariant to shifting and
scaling the logits, so a coarse (e.g. 2-bit) classifier's logit scale does not hide the gradient.
Needs at least 3 classes. ART 1.20.1 offers DLR only in this untargeted form (its targeted
``AutoProjectedGradientDescent`` keeps the same untargeted DLR), so the targeted DLR of AutoAttack's
standard suite (APGD-T) is not used.

The algorithm is ART's ``AutoProjectedGradientDescent`` exactly as for APGD-CE (apgd_ce.py: L-inf,
``eps_step`` 2 eps, ``max_iter = steps``, ``nb_random_init = restarts``), with ``loss_type=None`` on a
``PyTorchClassifier`` whose loss is :class:`DLRLoss`. ART's own ``loss_type="difference_logits_ratio"``
divides by ``z_pi1 - z_pi3`` without AutoAttack's 1e-12, which is 0/0 (NaN images) when a quantized
classifier ties its three largest logits; the loss here is AutoAttack's.

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import InputError
from .apgd_ce import DEFAULT_STEPS, APGDSpec, apgd
from .base import register_attack

#: AutoAttack's guard against a zero denominator (source in the module docstring)
DLR_FLOOR = 1e-12


def dlr_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample DLR loss of ``logits`` (N, K >= 3) for true labels ``y`` (N,)."""
    z_sorted, index = logits.sort(dim=1)
    top_is_true = (index[:, -1] == y).float()
    rows = torch.arange(logits.shape[0], device=logits.device)
    best_other = z_sorted[:, -2] * top_is_true + z_sorted[:, -1] * (1.0 - top_is_true)
    return -(logits[rows, y] - best_other) / (z_sorted[:, -1] - z_sorted[:, -3] + DLR_FLOOR)


class DLRLoss(nn.modules.loss._Loss):
    """:func:`dlr_loss` as an ART classifier loss: one-hot float labels (ART passes those to a loss
    it does not know), reduced by ``self.reduction`` (ART sets it to 'none' for per-sample values)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        labels = target.argmax(dim=1) if target.dim() == 2 else target.long()
        loss = dlr_loss(logits, labels)
        return loss.mean() if self.reduction == "mean" else loss.sum() if self.reduction == "sum" else loss


def apgd_dlr(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = DEFAULT_STEPS,
             restarts: int = 1, eps_step: float | None = None, seed: int = 0) -> torch.Tensor:
    with torch.no_grad():
        classes = int(model(x[:1]).shape[1])
    if classes < 3:
        raise InputError(f"attack 'apgd_dlr' needs at least 3 classes (the DLR loss uses the third largest logit), "
                         f"the model has {classes}")
    return apgd(model, x, y, eps, loss_type=None, loss=DLRLoss(), steps=steps, restarts=restarts, eps_step=eps_step,
                seed=seed)


@register_attack("apgd_dlr")
@dataclass(frozen=True)
class APGDDifferenceOfLogitsRatio(APGDSpec):
    """APGD-DLR (ART ``AutoProjectedGradientDescent``, ``loss_type=None`` with :class:`DLRLoss`) at each eps."""

    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        return apgd_dlr(model, x, y, eps, self.steps, self.restarts, self.eps_step,
                        self.seed if self.seed is not None else seed)
