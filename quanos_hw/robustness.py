"""Robustness evaluation with its sanity checks (docs/design.md §3).

White-box: every attack of the configuration (specs of :data:`quanos_hw.attacks.ATTACKS`) at
each of its eps, on the model itself. Black-box: the same attacks crafted on an independently
trained float surrogate and evaluated on the target (transfer). Accuracies are over the whole
test set.

Quantized networks are known to mask gradients, so every evaluation carries checks written in
terms of attack properties, not names (Carlini et al., "On Evaluating Adversarial Robustness",
2019; Athalye et al., ICML 2018):

* ``iterative_not_weaker_than_single_step``: an iterative attack's accuracy <= a single-step
  attack's at the same eps (+ tolerance). A single-step attack is also evaluated at every eps of
  an iterative attack, so the pairs exist;
* ``large_eps_near_chance``: the reference attack (the first iterative one, else the first) in
  its deterministic form at a very large eps (default 0.5) drives accuracy to at most chance +
  margin; a model whose gradients are useless stays accurate (a diagnostic, run on the first
  ``large_eps_samples`` test images, default 200);
* ``blackbox_not_stronger_than_whitebox``: no transfer attack beats the same white-box attack
  at the same eps (- tolerance); if one does, the white-box gradients are unreliable;
* ``accuracy_monotone_in_eps``: for every attack with several eps, accuracy does not rise with
  eps (+ tolerance).

A check that has nothing to compare (no iterative and single-step pair, no transfer set, no
attack with several eps) is left out, never passed by default; a failed check is reported
(``passed: false`` and a reason), never hidden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import nn

from .attacks import AttackSpec, attack_dataset, attack_specs, check_eps, default_attacks
from .data import Batches, DatasetInfo, TensorData, as_tensor_data
from .errors import InputError
from .training import evaluate


def eps_key(eps: float) -> str:
    return f"{eps:.6g}"


@dataclass(frozen=True)
class AttackConfig:
    """The attacks to run (specs, or mappings ``{name, eps, ...}``) and the sanity-check settings."""

    attacks: tuple[AttackSpec, ...]
    large_eps: float = 0.5
    large_eps_steps: int = 10
    large_eps_samples: int | None = 200
    tolerance: float = 0.01
    chance_margin: float = 0.1
    seed: int = 0
    batch_size: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "attacks", attack_specs(self.attacks))
        check_eps(self.large_eps, "large_eps")
        if self.large_eps_samples is not None and self.large_eps_samples < 1:
            raise InputError(f"large_eps_samples must be a positive integer or None, got {self.large_eps_samples!r}")
        for name in ("large_eps_steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")

    @classmethod
    def for_dataset(cls, info: DatasetInfo, **overrides) -> AttackConfig:
        """The dataset's default attacks (unless ``attacks`` is given) and these settings."""
        return cls(**{"attacks": default_attacks(info), **overrides})

    def eps_grid(self) -> dict[str, tuple[float, ...]]:
        """Attack name -> the eps it is evaluated at (increasing): its own, and for a single-step
        attack also every eps of an iterative attack (the pairs of the strength check)."""
        iterative = {e for spec in self.attacks if spec.iterative for e in spec.eps}
        return {spec.name: tuple(sorted(set(spec.eps) | (set() if spec.iterative else iterative)))
                for spec in self.attacks}

    @property
    def reference(self) -> AttackSpec:
        """The headline attack: the first iterative attack configured, else the first."""
        return next((spec for spec in self.attacks if spec.iterative), self.attacks[0])


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

    @property
    def all_checks_passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        out = asdict(self)
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
    clean = evaluate(model, data, bs)
    white = {name: {key: evaluate(model, adv, bs) for key, adv in by_eps.items()}
             for name, by_eps in _attack_all(model, data, config, "", progress).items()}
    black = None
    if transfer is not None:
        sizes = {len(adv) for by_eps in transfer.adversarial.values() for adv in by_eps.values()}
        if sizes != {len(data)}:
            raise InputError(f"the transfer set holds {sorted(sizes)} images, the test data {len(data)}")
        black = {name: {key: evaluate(model, adv, bs) for key, adv in by_eps.items()}
                 for name, by_eps in transfer.adversarial.items()}
    probe = _large_eps_probe(model, data, config, progress)
    attacks = {spec.name: AttackResult(spec.to_dict(), spec.iterative, white[spec.name],
                                       None if black is None else black[spec.name]) for spec in config.attacks}
    ref = config.reference
    reference = {"attack": ref.name, "eps": eps_key(max(ref.eps))}
    checks = sanity_checks(config, num_classes, white, probe, black)
    return RobustnessResult(clean, attacks, reference, probe, checks)


def _large_eps_probe(model: nn.Module, data: TensorData, config: AttackConfig, progress: bool) -> ProbeResult:
    probe = data if config.large_eps_samples is None else data.head(config.large_eps_samples)
    spec = config.reference.at_large_eps(config.large_eps, config.large_eps_steps)
    adv = attack_dataset(spec.perturb, model, probe, eps=config.large_eps, seed=config.seed,
                         batch_size=config.batch_size, progress=progress, desc=f"{spec.name} large eps")
    return ProbeResult(spec.name, config.large_eps, config.large_eps_steps, len(probe),
                       evaluate(model, adv, config.batch_size))


def sanity_checks(config: AttackConfig, num_classes: int, white: dict[str, dict[str, float]], probe: ProbeResult,
                  black: dict[str, dict[str, float]] | None) -> list[SanityCheck]:
    """The checks on accuracies by attack name and eps key (white-box, black-box or None)."""
    tol = config.tolerance
    iterative = [s.name for s in config.attacks if s.iterative]
    single = [s.name for s in config.attacks if not s.iterative]
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
    return checks


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
    (white-box), then 'black-box <attack> <eps>' for the headline attack (None when not run)."""
    out = {"clean": robustness["clean"]}
    for name, result in robustness["attacks"].items():
        out.update({f"{name} {key}": acc for key, acc in result["white_box"].items()})
    out[f"black-box {reference_label(robustness)}"] = reference_accuracy(robustness, black_box=True)
    return out
