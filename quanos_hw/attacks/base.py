"""Shared steps of every attack (the role of torchattacks' ``Attack``): argument checks, eval
mode, the input gradient, running an attack batch-wise over a dataset, and :class:`AttackSpec`,
the base of the parameter dataclass every attack registers under its name in :data:`ATTACKS`
(timm-style: ``@register_attack("name")`` in the attack's own file)."""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from energy_models.registry import Registry

from ..bounds import MAX_STEPS, Range, check_number
from ..data import Batches, TensorData, iter_batches
from ..errors import InputError
from ..modes import eval_mode  # noqa: F401 - the attacks' eval mode, re-exported by quanos_hw.attacks

AttackFn = Callable[..., torch.Tensor]


def check_eps(eps: float, name: str = "eps") -> float:
    """eps (an L-inf budget in [0, 1] pixel space) as a float, or InputError."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps):
        raise InputError(f"{name} must be a number, got {eps!r}")
    if not 0.0 <= eps <= 1.0:
        raise InputError(f"{name} must be between 0 and 1 (pixels are in [0, 1]), got {eps}")
    return float(eps)


def check_positive_int(value: object, name: str, maximum: int = MAX_STEPS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    check_number(value, Range(1, maximum), name)
    return value


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d mean-CE(model(x), y) / dx. Brevitas quantizers pass it by straight-through estimation.

    (torch.func.grad does not work through Brevitas layers; torch.autograd.grad does.)
    """
    x = x.clone().detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    return torch.autograd.grad(loss, x, retain_graph=False, create_graph=False)[0]


def attack_dataset(
    attack: AttackFn,
    model: nn.Module,
    data: Batches,
    *,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "attack",
    **params,
) -> TensorData:
    """Adversarial copy of ``data`` (a TensorData, or any iterable of ``(images, labels)``
    batches such as a DataLoader): ``attack(model, x, y, **params)`` batch by batch."""
    xs, ys = [], []
    steps = math.ceil(len(data) / batch_size) if isinstance(data, TensorData) else None
    device = next(model.parameters()).device
    for x, y in tqdm(iter_batches(data, batch_size), total=steps, desc=desc, disable=not progress, leave=False):
        y = y.to(device)
        xs.append(attack(model, x.to(device), y, **params))
        ys.append(y)
    if not xs:
        raise InputError("cannot attack an empty dataset")
    return TensorData(torch.cat(xs), torch.cat(ys))


@dataclass(frozen=True)
class AttackSpec(ABC):
    """An attack's parameters: ``eps``, the L-inf budgets (in [0, 1] pixels) it is evaluated at,
    plus what the subclass adds. Class attributes describe the attack to the sanity checks:
    ``iterative`` (several steps; a gradient attack that iterates must not be weaker than a
    single-step one), ``randomized`` (draws random numbers; seeded by ``seed``, or by the evaluation
    seed when None) and ``uses_gradients`` (False for a score-based, gradient-free attack, which the
    masking check compares with the best gradient attack).
    """

    name: ClassVar[str] = ""
    iterative: ClassVar[bool] = False
    randomized: ClassVar[bool] = False
    uses_gradients: ClassVar[bool] = True

    eps: tuple[float, ...]

    def __post_init__(self) -> None:
        if isinstance(self.eps, (int, float)):
            object.__setattr__(self, "eps", (self.eps,))
        if not isinstance(self.eps, (tuple, list)) or not self.eps:
            raise InputError(f"attack {self.name!r}: eps needs at least one value, got {self.eps!r}")
        object.__setattr__(self, "eps", tuple(check_eps(e, f"attack {self.name!r} eps") for e in self.eps))
        if len(set(self.eps)) != len(self.eps):
            raise InputError(f"attack {self.name!r}: eps values must be distinct, got {list(self.eps)}")

    @abstractmethod
    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        """Adversarial ``x`` at budget ``eps``; ``seed`` is the evaluation seed (randomized attacks)."""

    def at_large_eps(self, eps: float, steps: int) -> AttackSpec:
        """The deterministic, strongest form of this attack at ``eps`` (``steps`` steps where it
        iterates), used by the large-eps probe for gradient masking."""
        return dataclasses.replace(self, eps=(eps,))

    def to_dict(self) -> dict:
        out = {"name": self.name}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> AttackSpec:
        """The spec from config keys (``eps`` required; the others default); unknown or
        missing parameters and wrong types are InputErrors naming the attack."""
        params = {k: v for k, v in raw.items() if k != "name"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InputError(f"attack {cls.name!r} has no parameter(s) {unknown}; its parameters: {sorted(known)}")
        missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in params
                         and f.default is dataclasses.MISSING)
        if missing:
            raise InputError(f"attack {cls.name!r} needs parameter(s) {missing}")
        return cls(**params)  # __post_init__ checks the values (a list of eps becomes a tuple)


#: attack name -> its spec class; filled by ``@register_attack`` in each attack's file.
ATTACKS: Registry[type[AttackSpec]] = Registry("attack")


def register_attack(name: str) -> Callable[[type[AttackSpec]], type[AttackSpec]]:
    def decorator(cls: type[AttackSpec]) -> type[AttackSpec]:
        cls.name = name
        return ATTACKS.register(name)(cls)

    return decorator


def attack_spec(raw: AttackSpec | dict) -> AttackSpec:
    """An attack spec from a spec or a mapping ``{name: ..., eps: [...], ...}`` (a config entry)."""
    if isinstance(raw, AttackSpec):
        return raw
    if not isinstance(raw, dict) or "name" not in raw:
        raise InputError(f"an attack must be a mapping with a 'name' and its parameters, got {raw!r}")
    return ATTACKS.get(raw["name"]).from_dict(raw)


def attack_specs(raw: object) -> tuple[AttackSpec, ...]:
    """Specs from a list of specs or mappings: at least one, each attack at most once."""
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InputError(f"attacks must be a non-empty list of attacks ({{name: ..., eps: [...]}}), got {raw!r}")
    specs = tuple(attack_spec(item) for item in raw)
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"attack(s) {twice} listed more than once; give one entry with all its eps")
    return specs
