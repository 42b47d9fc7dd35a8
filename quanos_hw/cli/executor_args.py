"""``--executor``, ``--ray-address`` and ``--trial-resources`` of run, compare and dse (quanos_hw/executor)."""

from __future__ import annotations

import argparse


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where trials run (README: Running on many machines)")
    g.add_argument("--executor", default="serial", metavar="NAME",
                   help="serial (default: one trial after another in this process) or ray (needs the extra "
                        "quanos-hw[distributed]); results are identical at the same --trial-resources cpu")
    g.add_argument("--ray-address", metavar="ADDRESS",
                   help="a running Ray cluster (HOST:PORT of 'ray start --head', ray://HOST:PORT or auto); "
                        "default: start a local Ray with this machine's cores")
    g.add_argument("--trial-resources", metavar="cpu=N,gpu=M",
                   help="what each trial takes: N torch threads (and N Ray CPUs; default: the threads torch uses "
                        "here) and M GPUs on Ray (gpu=1: one GPU per training trial)")


def executor_from_args(args: argparse.Namespace):
    """The executor the arguments ask for, started and checked (InputError, nothing written, when it
    cannot be: an unknown name, Ray missing, a cluster that does not answer, resources no node has)."""
    from ..executor import ExecutorConfig, TrialResources, make_executor

    resources = TrialResources.parse(args.trial_resources) if args.trial_resources else TrialResources()
    return make_executor(ExecutorConfig(name=args.executor, address=args.ray_address, resources=resources))
