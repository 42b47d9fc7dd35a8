"""Where independent trials run: the executor interface, its configuration and its registry.

A *trial* is a module-level function ``fn(shared, *args)`` of its inputs: it seeds its own random
number generators from its arguments, writes only files no other trial writes, and returns a
JSON-able result. An executor runs a batch of trials and returns their results in the order given.
Two executors are registered: ``serial`` (in this process, one after another; the default) and
``ray`` (Ray tasks on a local Ray or a cluster; quanos_hw/executor/ray_executor.py).

Both run every trial with the same number of torch threads (:func:`call_trial`): results of the
CPU kernels (the reductions of a convolution) depend on the thread count, so a trial's thread count
is part of what makes serial and Ray results bit-identical.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from energy_models.registry import Registry

from ..errors import InputError

#: how many times Ray re-runs a trial whose worker died (a node lost, a process killed)
DEFAULT_MAX_RETRIES = 3
#: seconds to wait for a Ray cluster to answer before giving up
DEFAULT_CONNECT_TIMEOUT_S = 30.0
#: what --trial-resources accepts
RESOURCE_KEYS = ("cpu", "gpu")


@dataclass(frozen=True)
class TrialResources:
    """What one trial takes: ``cpu`` torch threads (and, on Ray, reserved CPUs; None: as many threads
    as torch uses in the launching process), ``gpu`` GPUs reserved on Ray (a fraction shares one)."""

    cpu: int | None = None
    gpu: float = 0.0

    def __post_init__(self) -> None:
        if self.cpu is not None and (isinstance(self.cpu, bool) or not isinstance(self.cpu, int) or self.cpu < 1):
            raise InputError(f"--trial-resources cpu must be a positive integer, got {self.cpu!r}")
        if isinstance(self.gpu, bool) or not isinstance(self.gpu, (int, float)) or not 0 <= self.gpu <= 1024:
            raise InputError(f"--trial-resources gpu must be a number between 0 and 1024, got {self.gpu!r}")

    @classmethod
    def parse(cls, text: str) -> TrialResources:
        """``cpu=N,gpu=M`` (either part may be left out)."""
        values: dict[str, float | int] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in RESOURCE_KEYS:
                raise InputError(f"--trial-resources takes cpu=N,gpu=M, got {text!r}")
            if key in values:
                raise InputError(f"--trial-resources gives {key} twice: {text!r}")
            try:
                values[key] = int(value) if key == "cpu" else float(value)
            except ValueError:
                raise InputError(f"--trial-resources {key} must be a number, got {value.strip()!r}") from None
        return cls(**values)

    def threads(self) -> int:
        """The torch threads of every trial: ``cpu``, or the count torch uses in this process."""
        if self.cpu is not None:
            return self.cpu
        import torch

        return torch.get_num_threads()


@dataclass(frozen=True)
class ExecutorConfig:
    """``name``: a registered executor; ``address``: a Ray cluster (``host:port``, ``ray://host:port``
    or ``auto``; None: start a local Ray); ``workers``: CPUs of a local Ray (None: the machine's cores)."""

    name: str = "serial"
    address: str | None = None
    resources: TrialResources = TrialResources()
    workers: int | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S

    def __post_init__(self) -> None:
        EXECUTORS.get(self.name)  # an unknown name fails here, before anything runs
        if self.name != "ray" and (self.address is not None or self.workers is not None):
            raise InputError(f"--ray-address and workers apply to --executor ray, not {self.name!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise InputError(f"workers must be a positive integer, got {self.workers!r}")


@dataclass(frozen=True)
class Trial:
    """One independent piece of work: ``fn(shared, *args)``; ``key`` names it in logs and errors."""

    key: str
    fn: Callable[..., Any]
    args: tuple = ()


@contextlib.contextmanager
def torch_threads(count: int):
    """Run the block with ``count`` torch intra-op threads, restoring the previous count after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def call_trial(fn: Callable[..., Any], shared: Any, args: tuple, threads: int | None) -> Any:
    """Run one trial with ``threads`` torch threads (None: as many as this process uses); every executor
    calls trials through this."""
    if threads is None:
        return fn(shared, *args)
    with torch_threads(threads):
        return fn(shared, *args)


def _apply(shared: Any, fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def as_map(executor: Executor) -> Callable[[Callable[[Any], Any], list], list]:
    """``map_trials(fn, items)`` on ``executor``: one trial ``fn(item)`` per item, results in order
    (``fn`` a module-level function of plain data, as every trial)."""
    return lambda fn, items: executor.run([Trial(f"trial {i + 1} of {len(items)}", _apply, (fn, item))
                                           for i, item in enumerate(items)])


class Executor(ABC):
    """Runs batches of independent trials. Use as a context manager (``with make_executor(c) as ex:``);
    :meth:`close` releases what the executor started."""

    #: whether trials run in this process (progress bars are shown only then)
    in_process: bool = True

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self.closed = False

    @abstractmethod
    def run(self, trials: Sequence[Trial], shared: Any = None) -> list[Any]:
        """Every trial's result, in the order of ``trials``; ``shared`` is every trial's first argument
        (sent once). The first failing trial's exception is raised (the others are cancelled);
        KeyboardInterrupt cancels the trials not yet finished and is raised again."""

    def slots(self) -> int:
        """How many trials can run at once (how many pieces to cut divisible work into)."""
        return 1

    def close(self) -> None:
        """Release what the executor started (by default nothing but the mark)."""
        self.closed = True

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: name -> Executor class; serial.py and ray_executor.py register theirs (imported by the package)
EXECUTORS: Registry[type[Executor]] = Registry("executor")


@contextlib.contextmanager
def using(executor: Executor | None):
    """The block's executor: ``executor`` (left open: its owner closes it), or a serial one made for the
    block and closed after it."""
    if executor is not None:
        yield executor
        return
    with make_executor() as own:
        yield own


def make_executor(config: ExecutorConfig | str | None = None) -> Executor:
    """An executor from its configuration (or its name; None: serial). Bad input (an unknown name, Ray
    missing, an unreachable cluster, resources no node has) raises InputError before any trial runs."""
    if config is None or isinstance(config, str):
        config = ExecutorConfig(name=config or "serial")
    return EXECUTORS.get(config.name)(config)
