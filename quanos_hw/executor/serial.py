"""The ``serial`` executor: every trial in this process, one after another (the default; no Ray)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import EXECUTORS, Executor, Trial, call_trial


@EXECUTORS.register("serial")
class SerialExecutor(Executor):
    in_process = True

    def run(self, trials: Sequence[Trial], shared: Any = None) -> list[Any]:
        threads = self.config.resources.cpu  # None: this process's thread count, unchanged
        return [call_trial(t.fn, shared, t.args, threads) for t in trials]
