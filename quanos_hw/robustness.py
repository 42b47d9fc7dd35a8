"""Robustness evaluation with its sanity checks (docs/design.md §3).

White-box: every attack of the configuration (specs of :data:`quanos_hw.attacks.ATTACKS`) at
each of its eps, on the model itself. Black-box: the same attacks crafted on an independently
trained float surrogate and evaluated on the target (transfer). Accuracies are over the whole
test set.

Quantized networks are known to mask gradients, so every evaluation carries checks written in
terms of attack properties, not names (Carlini et al., "On Evaluating Adversarial Robustness",
2019; Athalye et al., ICML 2018):

* ``iterative_not_weaker_than_single_step``: an iterative gradient attack's accuracy <= a
  single-step attack's at the same eps (+ tolerance). A single-step attack is also evaluated at
  every eps of an iterative gradient attack, so the pairs exist;
* ``large_eps_near_chance``: the reference attack (the first iterative gradient attack, else the
  first gradient attack, else the first) in its deterministic form at a very large eps (default
  0.5) drives accuracy to at most chance + margin; a model whose gradients are useless stays
  accurate (a diagnostic, run on the first ``large_eps_samples`` test images, default 200);
* ``blackbox_not_stronger_than_whitebox``: no transfer attack beats the same white-box attack
  at the same eps (- tolerance); if one does, the white-box gradients are unreliable;
* ``accuracy_monotone_in_eps``: for every attack with several eps, accuracy does not rise with
  eps (+ tolerance);
* ``whitebox_not_beaten_by_gradient_free_or_transfer`` (the masking warning): on the worst-case
  images, no gradient-free (score-based, e.g. Square) or transfer attack takes more than
  ``masking_margin`` (2 points) off the accuracy that every white-box gradient attack together
  (straight-through and float twin) left; if one does, the gradients are masked and the white-box
  numbers are too optimistic (:mod:`quanos_hw.worst_case`).

**Worst case** (AutoAttack's protocol, Croce & Hein, ICML 2020): on the first ``samples`` test
images (the suite's, config key ``robustness``; :mod:`quanos_hw.attacks.suites`), every attack
evaluated at the reference eps (the configured ones white-box and transferred from the surrogate,
and the suite's strong attacks; on a quantized model every gradient attack of the suite also
through its float twin, :mod:`quanos_hw.adaptive`) gives a per-image verdict, and an image counts as
robust only if it is classified correctly without attack and under every one of them. Images
misclassified without attack are not attacked by the suite (they are not robust either way).

A check that has nothing to compare (no iterative and single-step pair, no transfer set, no
attack with several eps) is left out, never passed by default; a failed check is reported
(``passed: false`` and a reason), never hidden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .attacks import AttackSpec, attack_dataset, attack_specs, check_eps, default_attacks
from .attacks.suites import SUITES
from .bounds import MAX_SAMPLES, Range, check_number
from .data import Batches, DatasetInfo, TensorData, as_tensor_data
from .errors import InputError
from .training import evaluate
from .worst_case import Verdict, WorstCase, component_label, correct_mask, run_suite, via, worst_case


def eps_key(eps: float) -> str:
    return f"{eps:.6g}"


@dataclass(frozen=True)
class AttackConfig:
    """The attacks to run (specs, or mappings ``{name, eps, ...}``) and the sanity-check settings.

    ``robustness`` names the worst-case suite (:data:`quanos_hw.attacks.suites.SUITES`) whose strong
    attacks join the configured ones at the reference eps (None: none join; the worst case is then
    over the configured attacks); ``robustness_samples`` overrides the suite's image count (None:
    the suite's; all images without a suite). ``adaptive``: also run the suite's gradient attacks
    through the float twin of a quantized model. ``masking_margin``: the masking warning's margin."""

    attacks: tuple[AttackSpec, ...]
    large_eps: float = 0.5
    large_eps_steps: int = 10
    large_eps_samples: int | None = 200
    tolerance: float = 0.01
    chance_margin: float = 0.1
    seed: int = 0
    batch_size: int = 256
    robustness: str | None = None
    robustness_samples: int | None = None
    adaptive: bool = True
    masking_margin: float = 0.02

    def __post_init__(self) -> None:
        object.__setattr__(self, "attacks", attack_specs(self.attacks))
        check_eps(self.large_eps, "large_eps")
        for name in ("large_eps_samples", "robustness_samples"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a positive integer or None, got {value!r}")
            check_number(value, Range(1, MAX_SAMPLES, optional=True), name)
        for name in ("large_eps_steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.robustness is not None:
            SUITES.get(self.robustness)  # an unknown suite is an UnknownNameError listing the suites
        if not isinstance(self.adaptive, bool):
            raise InputError(f"adaptive must be true or false, got {self.adaptive!r}")
        check_eps(self.masking_margin, "masking_margin")

    @classmethod
    def for_dataset(cls, info: DatasetInfo, **overrides) -> AttackConfig:
        """The dataset's default attacks (unless ``attacks`` is given) and these settings."""
        return cls(**{"attacks": default_attacks(info), **overrides})

    def eps_grid(self) -> dict[str, tuple[float, ...]]:
        """Attack name -> the eps it is evaluated at (increasing): its own, and for a single-step
        gradient attack also every eps of an iterative gradient attack (the pairs of the strength check)."""
        iterative = {e for spec in self.attacks if spec.iterative and spec.uses_gradients for e in spec.eps}
        return {spec.name: tuple(sorted(set(spec.eps) | (iterative if _single_step(spec) else set())))
                for spec in self.attacks}

    @property
    def reference(self) -> AttackSpec:
        """The headline attack: the first iterative gradient attack configured, else the first
        gradient attack, else the first."""
        gradient = [spec for spec in self.attacks if spec.uses_gradients]
        return next((spec for spec in gradient if spec.iterative), (gradient or list(self.attacks))[0])

    @property
    def reference_eps(self) -> float:
        """The eps of the headline number and of the worst case: the headline attack's largest."""
        return max(self.reference.eps)

    def worst_case_samples(self, available: int) -> int:
        """How many of the first test images the worst case is evaluated on."""
        suite = None if self.robustness is None else SUITES.get(self.robustness).samples
        wanted = self.robustness_samples if self.robustness_samples is not None else suite
        return available if wanted is None else min(wanted, available)

    def suite_attacks(self, num_classes: int) -> tuple[AttackSpec, ...]:
        """The suite's attacks at the reference eps, less those configured at that eps already."""
        if self.robustness is None:
            return ()
        grid, eps = self.eps_grid(), self.reference_eps
        return tuple(spec for spec in SUITES.get(self.robustness).attacks(eps, num_classes)
                     if eps not in grid.get(spec.name, ()))


def _single_step(spec: AttackSpec) -> bool:
    return spec.uses_gradients and not spec.iterative


@dataclass(frozen=True)
class SanityCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class AttackResult:
    """One attack: its parameters and accuracy by eps key (``eps_key``), white-box and black-box."""

    params: dict
    iterative: bool
    white_box: dict[str, float]
    black_box: dict[str, float] | None


@dataclass(frozen=True)
class ProbeResult:
    """The large-eps probe: ``attack`` in its deterministic form at ``eps`` on ``samples`` images."""

    attack: str
    eps: float
    steps: int
    samples: int
    accuracy: float


@dataclass(frozen=True)
class RobustnessResult:
    """Accuracies in [0, 1]. ``reference`` names the headline attack and eps (``eps_key``)."""

    clean: float
    attacks: dict[str, AttackResult]
    reference: dict[str, str]
    large_eps: ProbeResult
    checks: list[SanityCheck] = field(default_factory=list)
    worst_case: WorstCase | None = None

    @property
    def all_checks_passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        """JSON data (report.json's ``robustness`` of a model); ``worst_case`` only when evaluated."""
        out = asdict(self)
        if out["worst_case"] is None:
            del out["worst_case"]
        out["all_checks_passed"] = self.all_checks_passed
        return out


@dataclass
class TransferSet:
    """Adversarial test sets crafted once on a surrogate, reused for every target:
    attack name -> eps key -> adversarial copy of the test set."""

    adversarial: dict[str, dict[str, TensorData]]


def _attack_all(model: nn.Module, data: TensorData, config: AttackConfig, prefix: str,
                progress: bool) -> dict[str, dict[str, TensorData]]:
    grid = config.eps_grid()
    return {spec.name: {eps_key(e): attack_dataset(spec.perturb, model, data, eps=e, seed=config.seed,
                                                   batch_size=config.batch_size, progress=progress,
                                                   desc=f"{prefix}{spec.name} {e:.3g}")
                        for e in grid[spec.name]}
            for spec in config.attacks}


def craft_transfer_set(surrogate: nn.Module, data: Batches, config: AttackConfig,
                       progress: bool = False) -> TransferSet:
    """Every configured attack at every eps of :meth:`AttackConfig.eps_grid`, crafted on ``surrogate``."""
    return TransferSet(_attack_all(surrogate, as_tensor_data(data), config, "surrogate ", progress))


def evaluate_robustness(
    model: nn.Module,
    data: Batches,
    config: AttackConfig,
    num_classes: int,
    transfer: TransferSet | None = None,
    progress: bool = False,
) -> RobustnessResult:
    """Clean, white-box, large-eps and (with ``transfer``) black-box accuracy, and the checks.

    ``data``: a TensorData or any iterable of ``(images, labels)`` batches (a DataLoader),
    gathered once so that every attack sees the same images in the same order."""
    data = as_tensor_data(data)
    bs = config.batch_size
    clean = evaluate(model, data, bs)  # also refuses an uncalibrated quantized model
    white = {name: {key: correct_mask(model, adv, bs) for key, adv in by_eps.items()}
             for name, by_eps in _attack_all(model, data, config, "", progress).items()}
    black = None
    if transfer is not None:
        sizes = {len(adv) for by_eps in transfer.adversarial.values() for adv in by_eps.values()}
        if sizes != {len(data)}:
            raise InputError(f"the transfer set holds {sorted(sizes)} images, the test data {len(data)}")
        black = {name: {key: correct_mask(model, adv, bs) for key, adv in by_eps.items()}
                 for name, by_eps in transfer.adversarial.items()}
    worst = _worst_case(model, data, config, num_classes, white, black, progress)
    white, black = _accuracies(white), None if black is None else _accuracies(black)
    probe = _large_eps_probe(model, data, config, progress)
    attacks = {spec.name: AttackResult(spec.to_dict(), spec.iterative, white[spec.name],
                                       None if black is None else black[spec.name]) for spec in config.attacks}
    reference = {"attack": config.reference.name, "eps": eps_key(config.reference_eps)}
    checks = sanity_checks(config, num_classes, white, probe, black, worst)
    return RobustnessResult(clean, attacks, reference, probe, checks, worst)


def _accuracies(correct: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, float]]:
    return {name: {key: float(mask.float().mean()) for key, mask in by_eps.items()} for name, by_eps in correct.items()}


def _worst_case(model: nn.Module, data: TensorData, config: AttackConfig, num_classes: int,
                white: dict[str, dict[str, torch.Tensor]], black: dict[str, dict[str, torch.Tensor]] | None,
                progress: bool) -> WorstCase:
    """The worst case at the reference eps on the first images: the configured attacks' verdicts
    there (white-box, then transferred), then the suite's attacks (also through the float twin)."""
    eps = config.reference_eps
    key, n = eps_key(eps), config.worst_case_samples(len(data))
    head = data.head(n)
    clean = correct_mask(model, head, config.batch_size)
    given = [Verdict(s.name, via(s), white[s.name][key][:n]) for s in config.attacks if key in white[s.name]]
    if black is not None:
        given += [Verdict(name, "transfer", by_eps[key][:n]) for name, by_eps in black.items() if key in by_eps]
    given += run_suite(model, head, clean, config.suite_attacks(num_classes), given, eps, seed=config.seed,
                       batch_size=config.batch_size, adaptive=config.adaptive, progress=progress)
    return worst_case(config.robustness, key, clean, given, config.masking_margin)


def _large_eps_probe(model: nn.Module, data: TensorData, config: AttackConfig, progress: bool) -> ProbeResult:
    probe = data if config.large_eps_samples is None else data.head(config.large_eps_samples)
    spec = config.reference.at_large_eps(config.large_eps, config.large_eps_steps)
    adv = attack_dataset(spec.perturb, model, probe, eps=config.large_eps, seed=config.seed,
                         batch_size=config.batch_size, progress=progress, desc=f"{spec.name} large eps")
    return ProbeResult(spec.name, config.large_eps, config.large_eps_steps, len(probe),
                       evaluate(model, adv, config.batch_size))


def sanity_checks(config: AttackConfig, num_classes: int, white: dict[str, dict[str, float]], probe: ProbeResult,
                  black: dict[str, dict[str, float]] | None, worst: WorstCase | None = None) -> list[SanityCheck]:
    """The checks on accuracies by attack name and eps key (white-box, black-box or None) and on
    the worst case's components (the masking warning)."""
    tol = config.tolerance
    iterative = [s.name for s in config.attacks if s.iterative and s.uses_gradients]
    single = [s.name for s in config.attacks if _single_step(s)]
    checks = []
    pairs = [(i, s, e) for i in iterative for s in single for e in white[i] if e in white[s]]
    if pairs:
        weaker = [f"{i} {white[i][e]:.3f} vs {s} {white[s][e]:.3f} at eps {e}" for i, s, e in pairs
                  if white[i][e] > white[s][e] + tol]
        i, s, e = pairs[0]
        checks.append(SanityCheck("iterative_not_weaker_than_single_step", not weaker,
                                  "; ".join(weaker) or f"{i} {white[i][e]:.3f} vs {s} {white[s][e]:.3f} at eps {e}"))
    chance = 1.0 / num_classes
    checks.append(SanityCheck(
        "large_eps_near_chance", probe.accuracy <= chance + config.chance_margin,
        f"{probe.attack} accuracy {probe.accuracy:.3f} at eps {probe.eps:.3g} on {probe.samples} images "
        f"(chance {chance:.3f} + margin {config.chance_margin:.2f})"))
    if black is not None:
        stronger = [f"{n} {black[n][e]:.3f} vs {white[n][e]:.3f} at eps {e}" for n in white for e in white[n]
                    if black[n][e] < white[n][e] - tol]
        ref = config.reference.name
        e = eps_key(max(config.reference.eps))
        checks.append(SanityCheck(
            "blackbox_not_stronger_than_whitebox", not stronger,
            ("black-box beats white-box: " + "; ".join(stronger)) if stronger
            else f"black-box {ref} {black[ref][e]:.3f} vs white-box {white[ref][e]:.3f} at eps {e}"))
    several = {n: [acc[k] for k in sorted(acc, key=float)] for n, acc in white.items() if len(acc) > 1}
    if several:
        rises = [n for n, v in several.items() if any(v[i] > v[i - 1] + tol for i in range(1, len(v)))]
        checks.append(SanityCheck(
            "accuracy_monotone_in_eps", not rises,
            "; ".join(f"{n} by increasing eps: " + ", ".join(f"{v:.3f}" for v in vals) for n, vals in several.items())))
    masking = _masking_check(worst)
    return checks + ([masking] if masking is not None else [])


def _masking_check(worst: WorstCase | None) -> SanityCheck | None:
    """The masking warning: a gradient-free or transfer attack breaks more than the margin of the
    worst-case images that every white-box attack left robust (left out when either kind is missing)."""
    others = [] if worst is None else [c for c in worst.components if c.beyond_white_box is not None]
    if worst is None or worst.best_white_box is None or not others:
        return None
    shown = worst.beating_white_box() or [max(others, key=lambda c: c.beyond_white_box)]
    lowered = "; ".join(f"{component_label(c)} by {c.beyond_white_box:.3f}" for c in shown)
    best = worst.best_white_box
    detail = (f"white-box worst case {worst.white_box:.3f} lowered: {lowered} (best single white-box "
              f"{component_label(best)} {best.accuracy:.3f}; eps {worst.eps}, {worst.samples} images, margin "
              f"{worst.margin:.2f})")
    return SanityCheck("whitebox_not_beaten_by_gradient_free_or_transfer", not worst.masking_warning,
                       ("masking warning: " + detail) if worst.masking_warning else detail)


# -- reading a robustness dict (RobustnessResult.to_dict(), as in report.json) ---------------------
def reference_label(robustness: dict) -> str:
    """'<attack> <eps>' of the headline attack, e.g. 'pgd 0.1'."""
    return f"{robustness['reference']['attack']} {robustness['reference']['eps']}"


def reference_accuracy(robustness: dict, black_box: bool = False) -> float | None:
    """White-box (or black-box, None when not evaluated) accuracy under the headline attack."""
    ref = robustness["reference"]
    by_eps = robustness["attacks"][ref["attack"]]["black_box" if black_box else "white_box"]
    return None if by_eps is None else by_eps[ref["eps"]]


def accuracy_columns(robustness: dict) -> dict[str, float | None]:
    """Labelled accuracies in evaluation order: 'clean', '<attack> <eps>' for every attack and eps
    (white-box), then 'black-box <attack> <eps>' for the headline attack (None when not run), then
    'worst-case <eps>' (on the worst case's images) when the worst case was evaluated."""
    out = {"clean": robustness["clean"]}
    for name, result in robustness["attacks"].items():
        out.update({f"{name} {key}": acc for key, acc in result["white_box"].items()})
    out[f"black-box {reference_label(robustness)}"] = reference_accuracy(robustness, black_box=True)
    if "worst_case" in robustness:
        out[f"worst-case {robustness['worst_case']['eps']}"] = worst_case_accuracy(robustness)
    return out


def worst_case_accuracy(robustness: dict) -> float | None:
    """The worst-case robust accuracy (None for a report from before it was evaluated)."""
    worst = robustness.get("worst_case")
    return None if worst is None else worst["accuracy"]


def worst_case_line(report: dict) -> str:
    """One line on the worst case of a run's report (the QUANOS model's, the same for every model
    but for the float-twin components, which only quantized models have)."""
    worst = report["models"]["quanos"]["robustness"].get("worst_case")
    if worst is None:
        return "not evaluated"
    names = ", ".join(dict.fromkeys(component_label(c) for c in worst["components"]))
    return (f"worst case over {names} at eps {worst['eps']} on the first {worst['samples']} test images "
            f"(suite {worst['suite']}; '!': masking warning)")

