"""Worst-case robust accuracy, AutoAttack's protocol (Croce & Hein, "Reliable evaluation of
adversarial robustness with an ensemble of diverse parameter-free attacks", ICML 2020): on a set of
test images, an image counts as robust only if the model classifies it correctly without attack
and under every attack of the suite; the worst-case accuracy is the fraction of such images.

Every attack contributes a per-image verdict, a *component* named by the attack and the way it
reached the model (``via``):

* ``straight_through``: a white-box gradient attack on the model itself (Brevitas quantizers pass
  the gradient by the straight-through estimator);
* ``float_twin``: the same attack with the gradient of the model's float twin (BPDA,
  :mod:`quanos_hw.adaptive`), only on a model that quantizes;
* ``scores``: a gradient-free, score-based attack on the model (Square);
* ``transfer``: examples crafted on the independently trained surrogate.

As in AutoAttack, an attack runs only on the images still in play: the suite's gradient attacks
on the images classified correctly without attack (the others are not robust either way), its
gradient-free attacks after them, on the images that survive every white-box component (AutoAttack
runs Square last, on what APGD left). A component's ``accuracy`` is the fraction of the images
classified correctly both without attack and under it; a gradient-free suite attack, which saw
only the white-box survivors, has none (None). ``beyond_white_box`` (gradient-free and transfer
components) is the fraction of the images that survive every white-box component but not this one.

The masking warning (AutoAttack's ``check_square_sr``, fra31/auto-attack autoattack/checks.py,
commit fddb5d62d8dac1c2138150d04d53a3e51d8ea638, warns when Square lowers the robust accuracy left
by the gradient attacks by more than 0.2 points; here, per the robustness protocol of
docs/design.md §3, by more than ``margin``, 2 points): a gradient-free or transfer component breaks
more than ``margin`` of the images that every white-box component left robust, i.e. it beats the
white-box attacks, so their gradients are masked (Carlini et al., "On Evaluating Adversarial
Robustness", 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .adaptive import float_twin_gradient
from .attacks import AttackSpec, attack_dataset
from .data import TensorData
from .training import predict

WHITE_BOX = ("straight_through", "float_twin")
NOT_GRADIENT = ("scores", "transfer")


@dataclass(frozen=True)
class Verdict:
    """Per image (CPU bool tensor): did it stay classified correctly under ``attack`` via ``via``;
    ``everywhere``: the attack ran on every image classified correctly without attack (else only on
    the white-box survivors)."""

    attack: str
    via: str
    robust: torch.Tensor
    everywhere: bool = True


@dataclass(frozen=True)
class Component:
    """One attack's contribution (see the module docstring); fractions of the images."""

    attack: str
    via: str
    accuracy: float | None
    beyond_white_box: float | None


@dataclass(frozen=True)
class WorstCase:
    """The worst case at ``eps`` (an eps key) on the first ``samples`` test images: ``clean``,
    ``white_box`` (robust to every white-box component) and worst-case ``accuracy`` there, every
    component, the best (lowest-accuracy) white-box one, and the masking warning."""

    suite: str | None
    eps: str
    samples: int
    clean: float
    white_box: float
    accuracy: float
    margin: float
    components: list[Component]
    best_white_box: Component | None
    masking_warning: bool

    def beating_white_box(self) -> list[Component]:
        """The gradient-free and transfer components that break more than ``margin`` of the images."""
        return [c for c in self.components if c.beyond_white_box is not None and c.beyond_white_box > self.margin]


def component_label(component: Component | dict) -> str:
    """A short label: 'pgd', 'apgd_ce float twin', 'square', 'pgd transfer'."""
    c = component if isinstance(component, dict) else component.__dict__
    return c["attack"] + {"straight_through": "", "float_twin": " float twin", "scores": "",
                          "transfer": " transfer"}[c["via"]]


def via(spec: AttackSpec) -> str:
    """How ``spec`` reaches the model when run on it directly."""
    return "straight_through" if spec.uses_gradients else "scores"


def correct_mask(model: nn.Module, data: TensorData, batch_size: int) -> torch.Tensor:
    """Per image (on the CPU): does ``model`` classify it correctly."""
    return predict(model, data, batch_size) == data.labels.cpu()


def _attacked(view: nn.Module, model: nn.Module, spec: AttackSpec, data: TensorData, among: torch.Tensor, eps: float,
              seed: int, batch_size: int, desc: str, progress: bool) -> torch.Tensor:
    """Robust per image: ``spec`` crafted on ``view`` for the images ``among``, judged on ``model``;
    the other images are not robust."""
    robust = torch.zeros_like(among)
    index = among.nonzero().flatten()
    if len(index):
        where = index.to(data.images.device)
        adv = attack_dataset(spec.perturb, view, TensorData(data.images[where], data.labels[where]), eps=eps, seed=seed,
                             batch_size=batch_size, progress=progress, desc=desc)
        robust[index] = correct_mask(model, adv, batch_size)
    return robust


def run_suite(model: nn.Module, data: TensorData, clean_correct: torch.Tensor, attacks: tuple[AttackSpec, ...],
              given: list[Verdict], eps: float, *, seed: int, batch_size: int, adaptive: bool,
              progress: bool = False) -> list[Verdict]:
    """The suite's verdicts at ``eps`` on ``data``: its gradient attacks on the images classified
    correctly (with ``adaptive``, on a quantizing model, again through the float twin), then its
    gradient-free attacks on the images that survive every white-box verdict (``given`` and the
    suite's own)."""
    twin = float_twin_gradient(model) if adaptive else None
    out = []
    for spec in (s for s in attacks if s.uses_gradients):
        for view, how in [(model, "straight_through")] + ([(twin, "float_twin")] if twin is not None else []):
            out.append(Verdict(spec.name, how, _attacked(view, model, spec, data, clean_correct, eps, seed, batch_size,
                                                          f"{spec.name} {how} {eps:.3g}", progress)))
    survivors = clean_correct.clone()
    for verdict in given + out:
        if verdict.via in WHITE_BOX:
            survivors &= verdict.robust
    for spec in (s for s in attacks if not s.uses_gradients):
        out.append(Verdict(spec.name, "scores", _attacked(model, model, spec, data, survivors, eps, seed, batch_size,
                                                           f"{spec.name} {eps:.3g}", progress), everywhere=False))
    return out


def worst_case(suite: str | None, eps: str, clean_correct: torch.Tensor, verdicts: list[Verdict],
               margin: float) -> WorstCase:
    """The worst case from the per-image verdicts of every component."""
    fraction = lambda mask: int(mask.sum()) / mask.numel()  # exact: 4 of 5 is 0.8
    white = clean_correct.clone()
    for v in verdicts:
        if v.via in WHITE_BOX:
            white &= v.robust
    survived = clean_correct.clone()
    components = []
    for v in verdicts:
        robust = v.robust & clean_correct
        survived &= robust
        components.append(Component(v.attack, v.via, fraction(robust) if v.everywhere else None,
                                    None if v.via in WHITE_BOX else fraction(white & ~robust)))
    best = min((c for c in components if c.via in WHITE_BOX), key=lambda c: c.accuracy, default=None)
    beaten = best is not None and any(c.beyond_white_box is not None and c.beyond_white_box > margin
                                      for c in components)
    return WorstCase(suite, eps, int(clean_correct.numel()), fraction(clean_correct), fraction(white),
                     fraction(survived), margin, components, best, beaten)
