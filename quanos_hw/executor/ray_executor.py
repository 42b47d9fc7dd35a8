"""The ``ray`` executor: trials as Ray tasks, on a local Ray (the machine's cores) or a cluster.

Ray (``pip install "quanos-hw[distributed]"``, pinned in constraints.txt) is imported only when this
executor starts. Each trial is one task reserving ``cpu`` CPUs (its torch threads) and ``gpu`` GPUs;
Ray re-runs a task whose worker died (``max_retries``; a trial resumes from the files it left: the
state files and checkpoints of the phases it finished), while an exception raised by the trial
itself is not retried (``retry_exceptions=False``) and reaches the caller as itself. KeyboardInterrupt
cancels every unfinished task (:func:`ray.cancel`) and is raised again.

Before a trial is submitted: a cluster address must answer within ``connect_timeout_s`` (a TCP probe,
then ``ray.init`` in a bounded wait), and some live node must hold the resources of one trial;
otherwise InputError, with nothing written. Trials write into the results folder, so on a cluster
that folder must be on a file system every node mounts at the same path.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

from ..errors import InputError
from .base import EXECUTORS, Executor, ExecutorConfig, Trial, call_trial

INSTALL_HINT = "--executor ray needs Ray: pip install 'quanos-hw[distributed]'"
#: seconds between checks of the running trials (a Ctrl-C is handled at the next one)
POLL_S = 0.2


def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    return ray


def probe_address(address: str, timeout_s: float) -> None:
    """A TCP connection to ``host:port`` (or ``ray://host:port``) within ``timeout_s``, else InputError;
    ``auto`` (the cluster started on this machine) is left to Ray, which answers at once."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"--ray-address must be HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address!r} within {timeout_s:g} s: "
                         f"{exc.strerror or exc}") from None


def _init(ray, config: ExecutorConfig) -> None:
    """``ray.init`` for the configuration: a local Ray, or the cluster at ``address``, given up after
    ``connect_timeout_s`` (a daemon thread: a cluster that accepts the connection but never answers
    cannot hang the command)."""
    if config.address is None:
        try:
            ray.init(address="local", num_cpus=config.workers or os.cpu_count(), include_dashboard=False,
                     logging_level=logging.ERROR)
        except Exception as exc:  # noqa: BLE001 - one line, whatever Ray raised
            raise InputError(f"cannot start a local Ray: {' '.join(str(exc).split()) or type(exc).__name__}") from None
        return
    outcome: dict[str, BaseException | None] = {}

    def connect() -> None:
        try:
            ray.init(address=config.address, logging_level=logging.ERROR)
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 - reported below, in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="ray-connect", daemon=True)
    thread.start()
    thread.join(config.connect_timeout_s)
    where = f"the Ray cluster at {config.address!r}"
    if "error" not in outcome:
        raise InputError(f"{where} did not answer within {config.connect_timeout_s:g} s")
    if outcome["error"] is not None:
        error = outcome["error"]
        raise InputError(f"cannot connect to {where}: {' '.join(str(error).split()) or type(error).__name__}") \
            from None


def check_resources(nodes: list[dict], cpu: int, gpu: float) -> None:
    """InputError unless a live node (an entry of ``ray.nodes()``) holds ``cpu`` CPUs and ``gpu`` GPUs."""
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    if any(r.get("CPU", 0) >= cpu and r.get("GPU", 0) >= gpu for r in alive):
        return
    largest = max(alive, key=lambda r: (r.get("GPU", 0), r.get("CPU", 0)), default={})
    raise InputError(f"--trial-resources cpu={cpu},gpu={gpu:g}: no node of the Ray cluster has that much "
                     f"({len(alive)} node(s); the largest has {largest.get('CPU', 0):g} CPU(s) and "
                     f"{largest.get('GPU', 0):g} GPU(s)); ask for less")


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    in_process = False

    def __init__(self, config: ExecutorConfig) -> None:
        super().__init__(config)
        self.threads = config.resources.threads()  # every trial's torch threads and Ray CPUs
        if config.address is not None:
            probe_address(config.address, config.connect_timeout_s)
        self.ray = ray = import_ray()
        self._owner = not ray.is_initialized()  # shut down at close only a Ray this executor started
        if self._owner:
            _init(ray, config)
        try:
            check_resources(ray.nodes(), self.threads, config.resources.gpu)
        except BaseException:
            self.close()
            raise
        self._task = ray.remote(call_trial)
        self._options = {"num_cpus": self.threads, "num_gpus": config.resources.gpu,
                         "max_retries": config.max_retries, "retry_exceptions": False}

    def run(self, trials: Sequence[Trial], shared: Any = None) -> list[Any]:
        ray = self.ray
        if not trials:
            return []
        shared_ref = ray.put(shared)
        refs = [self._task.options(name=t.key, **self._options).remote(t.fn, shared_ref, t.args, self.threads)
                for t in trials]
        try:
            pending = list(refs)
            while pending:  # short waits, so a Ctrl-C reaches this thread within POLL_S whatever Ray does
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
                ray.get(ready)  # a failed trial raises now, not after the others
            return ray.get(refs)
        except ray.exceptions.RayTaskError as exc:  # the trial's own exception, raised as itself
            self.cancel(refs)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except BaseException:  # KeyboardInterrupt, a worker that died more often than max_retries
            self.cancel(refs)
            raise

    def slots(self) -> int:
        """Trials the cluster runs at once: its CPUs divided by each trial's."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 0) // self.threads))

    def cancel(self, refs: list) -> None:
        """Cancel every task not finished (a running one is stopped by killing its worker); the last
        submitted first, so that no pending task starts in the place of a cancelled running one."""
        for ref in reversed(refs):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or already gone
                pass

    def close(self) -> None:
        if self._owner and self.ray.is_initialized():
            self.ray.shutdown()
        self._owner = False
        super().close()
