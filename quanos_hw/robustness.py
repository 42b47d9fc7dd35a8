"""Robustness evaluation with its sanity checks (docs/design.md §3).

White-box: FGSM at each eps of a list and PGD (random start, 10 steps) on the model itself.
Black-box: transfer attacks, i.e. FGSM/PGD examples crafted on an independently trained float
surrogate and evaluated on the target. Accuracies are over the whole test set.

Quantized networks are known to mask gradients, so every evaluation carries four checks
(Carlini et al., "On Evaluating Adversarial Robustness", 2019; Athalye et al., ICML 2018):

* ``pgd_not_weaker_than_fgsm``: PGD accuracy <= FGSM accuracy at the same eps (+ tolerance);
* ``large_eps_near_chance``: PGD without random start at a very large eps (default 0.5) drives
  accuracy to at most chance + margin; a model whose gradients are useless stays accurate
  (a diagnostic, run on the first ``large_eps_samples`` test images, default 200);
* ``blackbox_not_stronger_than_whitebox``: transfer attacks do not beat white-box attacks at
  the same eps (- tolerance); if they do, the white-box gradients are unreliable;
* ``fgsm_monotone_in_eps``: accuracy does not rise with eps (+ tolerance).

A failed check is reported (``passed: false`` and a reason), never hidden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import nn

from .attacks import attack_dataset, check_eps, fgsm, pgd
from .data import DatasetInfo, TensorData
from .errors import InputError
from .training import evaluate


@dataclass(frozen=True)
class AttackConfig:
    """Attack budgets (L-inf, [0, 1] pixels) and sanity-check thresholds."""

    fgsm_eps: tuple[float, ...] = (0.05, 0.1, 0.2)
    pgd_eps: float = 0.1
    pgd_alpha: float = 0.025
    pgd_steps: int = 10
    pgd_random_start: bool = True
    large_eps: float = 0.5
    large_eps_steps: int = 10
    large_eps_samples: int | None = 200
    tolerance: float = 0.01
    chance_margin: float = 0.1
    seed: int = 0
    batch_size: int = 256

    def __post_init__(self) -> None:
        if not self.fgsm_eps:
            raise InputError("fgsm_eps needs at least one eps")
        for eps in self.fgsm_eps:
            check_eps(eps, "fgsm_eps")
        check_eps(self.pgd_eps, "pgd_eps")
        check_eps(self.pgd_alpha, "pgd_alpha")
        check_eps(self.large_eps, "large_eps")
        if self.large_eps_samples is not None and self.large_eps_samples < 1:
            raise InputError(f"large_eps_samples must be a positive integer or None, got {self.large_eps_samples!r}")
        for name in ("pgd_steps", "large_eps_steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")

    @classmethod
    def for_dataset(cls, info: DatasetInfo, **overrides) -> AttackConfig:
        return cls(fgsm_eps=info.fgsm_eps, pgd_eps=info.pgd_eps, pgd_alpha=info.pgd_alpha, **overrides)

    @property
    def eps_list(self) -> tuple[float, ...]:
        """FGSM eps values evaluated: the configured list plus the PGD eps (for the PGD check)."""
        return tuple(sorted(set(self.fgsm_eps) | {self.pgd_eps}))


@dataclass(frozen=True)
class SanityCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class RobustnessResult:
    """Accuracies in [0, 1]; FGSM keyed by eps formatted with 6 significant digits."""

    clean: float
    fgsm: dict[str, float]
    pgd: float
    pgd_eps: float
    large_eps: float
    large_eps_accuracy: float
    blackbox_fgsm: dict[str, float] | None
    blackbox_pgd: float | None
    checks: list[SanityCheck] = field(default_factory=list)

    @property
    def all_checks_passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["all_checks_passed"] = self.all_checks_passed
        return out


def eps_key(eps: float) -> str:
    return f"{eps:.6g}"


@dataclass
class TransferSet:
    """Adversarial test sets crafted once on a surrogate, reused for every target."""

    fgsm: dict[str, TensorData]
    pgd: TensorData


def craft_transfer_set(surrogate: nn.Module, data: TensorData, config: AttackConfig,
                       progress: bool = False) -> TransferSet:
    kw = dict(batch_size=config.batch_size, progress=progress)
    return TransferSet(
        fgsm={eps_key(e): attack_dataset(fgsm, surrogate, data, eps=e, desc=f"surrogate FGSM {e:.3g}", **kw)
              for e in config.eps_list},
        pgd=attack_dataset(pgd, surrogate, data, eps=config.pgd_eps, alpha=config.pgd_alpha, steps=config.pgd_steps,
                           random_start=config.pgd_random_start, seed=config.seed, desc="surrogate PGD", **kw),
    )


def evaluate_robustness(
    model: nn.Module,
    data: TensorData,
    config: AttackConfig,
    num_classes: int,
    transfer: TransferSet | None = None,
    progress: bool = False,
) -> RobustnessResult:
    """Clean, white-box FGSM/PGD, large-eps and (with ``transfer``) black-box accuracy + checks."""
    kw = dict(batch_size=config.batch_size, progress=progress)
    clean = evaluate(model, data, config.batch_size)
    fgsm_acc = {}
    for eps in config.eps_list:
        adv = attack_dataset(fgsm, model, data, eps=eps, desc=f"FGSM {eps:.3g}", **kw)
        fgsm_acc[eps_key(eps)] = evaluate(model, adv, config.batch_size)
    adv = attack_dataset(pgd, model, data, eps=config.pgd_eps, alpha=config.pgd_alpha, steps=config.pgd_steps,
                         random_start=config.pgd_random_start, seed=config.seed, desc="PGD", **kw)
    pgd_acc = evaluate(model, adv, config.batch_size)
    probe = data if config.large_eps_samples is None else data.head(config.large_eps_samples)
    adv = attack_dataset(pgd, model, probe, eps=config.large_eps, alpha=config.large_eps / 4,
                         steps=config.large_eps_steps, random_start=False, desc="PGD large eps", **kw)
    large_acc = evaluate(model, adv, config.batch_size)
    bb_fgsm = bb_pgd = None
    if transfer is not None:
        bb_fgsm = {key: evaluate(model, adv_set, config.batch_size) for key, adv_set in transfer.fgsm.items()}
        bb_pgd = evaluate(model, transfer.pgd, config.batch_size)
    checks = sanity_checks(config, num_classes, fgsm_acc, pgd_acc, large_acc, bb_fgsm, bb_pgd, len(probe))
    return RobustnessResult(clean, fgsm_acc, pgd_acc, config.pgd_eps, config.large_eps, large_acc, bb_fgsm,
                            bb_pgd, checks)


def sanity_checks(config: AttackConfig, num_classes: int, fgsm_acc: dict[str, float], pgd_acc: float,
                  large_acc: float, bb_fgsm: dict[str, float] | None, bb_pgd: float | None,
                  n_large: int | None = None) -> list[SanityCheck]:
    tol = config.tolerance
    fgsm_at_pgd = fgsm_acc[eps_key(config.pgd_eps)]
    checks = [
        SanityCheck("pgd_not_weaker_than_fgsm", pgd_acc <= fgsm_at_pgd + tol,
                    f"PGD {pgd_acc:.3f} vs FGSM {fgsm_at_pgd:.3f} at eps {config.pgd_eps:.3g}"),
    ]
    chance = 1.0 / num_classes
    checks.append(SanityCheck(
        "large_eps_near_chance", large_acc <= chance + config.chance_margin,
        f"accuracy {large_acc:.3f} at eps {config.large_eps:.3g} on {n_large} images (chance {chance:.3f} + margin "
        f"{config.chance_margin:.2f})"))
    if bb_pgd is not None and bb_fgsm is not None:
        worse = [k for k in fgsm_acc if bb_fgsm[k] < fgsm_acc[k] - tol]
        stronger = bb_pgd < pgd_acc - tol or bool(worse)
        checks.append(SanityCheck(
            "blackbox_not_stronger_than_whitebox", not stronger,
            f"black-box PGD {bb_pgd:.3f} vs white-box {pgd_acc:.3f}"
            + (f"; black-box FGSM beats white-box at eps {', '.join(worse)}" if worse else "")))
    values = [fgsm_acc[k] for k in sorted(fgsm_acc, key=float)]
    rises = [i for i in range(1, len(values)) if values[i] > values[i - 1] + tol]
    checks.append(SanityCheck(
        "fgsm_monotone_in_eps", not rises,
        "FGSM accuracy by increasing eps: " + ", ".join(f"{v:.3f}" for v in values)))
    return checks
