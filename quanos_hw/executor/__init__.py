"""Executors of independent trials: ``serial`` (default) and ``ray`` (quanos_hw/executor/base.py)."""

from . import ray_executor, serial  # noqa: F401  (each registers its executor)
from .base import EXECUTORS, Executor, ExecutorConfig, Trial, TrialResources, as_map, call_trial, make_executor, using

__all__ = ["EXECUTORS", "Executor", "ExecutorConfig", "Trial", "TrialResources", "as_map", "call_trial",
           "make_executor", "using"]
