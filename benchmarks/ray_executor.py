"""Trials on Ray vs serial: a small ``quanos compare`` run serially and on a local Ray with 2 workers
(each trial 1 CPU and 1 torch thread in both, so the results must be bit-identical), the wall-time
ratio, and Ray's own cost: starting a local Ray and the round trip of a no-op trial.

    python benchmarks/ray_executor.py                              # seeds 0 1, 1200 synthetic images
    python benchmarks/ray_executor.py --train 200 --seeds 0 --noop 5   # a smoke run

The comparison: synthetic data, small_cnn, 1 float warm-up + 2 QAT epochs, the metric:policy pairs
and budgets below, the quick worst-case suite on 40 images. Both runs write into fresh temporary
folders; only this benchmark's result files are kept.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import Timer, quiet, write

COMBOS = ("ans:budget_ilp", "weight_noise:budget_ilp", "ans:quanos_rule")
BUDGETS = (0.35, 0.5)


def compare_config(out: Path, seeds, train: int):
    from quanos_hw.pipeline.compare import CompareConfig

    return CompareConfig(dataset="synthetic", synthetic_train=train, synthetic_test=max(60, train // 5),
                         warmup_epochs=1, qat_epochs=2, seeds=tuple(seeds), combos=COMBOS, budgets=BUDGETS,
                         metric_batches=2, robustness="quick", robustness_samples=40, large_eps_samples=60,
                         large_eps_steps=3, batch_size=50, out_dir=str(out))


def timed_compare(config, executor) -> tuple[dict, float]:
    from quanos_hw.pipeline.compare import compare

    with Timer() as t:
        report = compare(config, progress=False, log=lambda msg: None, executor=executor)
    return report, t.seconds


def noop_round_trip(executor, count: int) -> dict:
    """Seconds per no-op trial: one at a time (submit, run, return), and ``count`` submitted together."""
    from quanos_hw.executor import Trial

    noop = Trial("noop", id)  # id(shared): a builtin, nothing to import in the worker
    executor.run([noop])  # the first task starts the workers
    one = []
    for _ in range(count):
        start = time.perf_counter()
        executor.run([noop])
        one.append(time.perf_counter() - start)
    with Timer() as t:
        executor.run([noop] * count)
    return {"one_at_a_time_s": statistics.median(one), "batch_per_trial_s": t.seconds / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train", type=int, default=1200, help="synthetic training images (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray (default: %(default)s)")
    parser.add_argument("--noop", type=int, default=50, help="no-op trials timed (default: %(default)s)")
    args = parser.parse_args()
    quiet()
    from quanos_hw.executor import ExecutorConfig, TrialResources, make_executor

    one_cpu = TrialResources(cpu=1)
    with tempfile.TemporaryDirectory() as tmp:
        serial, serial_s = timed_compare(compare_config(Path(tmp) / "serial", args.seeds, args.train),
                                         make_executor(ExecutorConfig(resources=one_cpu)))
        with Timer() as start:
            ray = make_executor(ExecutorConfig(name="ray", workers=args.workers, resources=one_cpu))
        with ray:
            overhead = noop_round_trip(ray, args.noop)
            distributed, ray_s = timed_compare(compare_config(Path(tmp) / "ray", args.seeds, args.train), ray)
    identical = all(serial[k] == distributed[k] for k in ("summary", "per_seed"))
    trainings = sum(len({c["phase"] for c in s["cells"].values() if "phase" in c}) + 1
                    for s in serial["per_seed"].values())
    data = {"seeds": args.seeds, "train_images": args.train, "workers": args.workers, "combos": COMBOS,
            "budgets": BUDGETS, "serial_s": serial_s, "ray_s": ray_s, "speedup": serial_s / ray_s,
            "identical": identical, "training_trials": trainings, "ray_start_s": start.seconds,
            "noop": {**overhead, "count": args.noop}}
    lines = ["# Trials on a local Ray vs serial (`quanos compare`)", "",
             f"`quanos compare` on synthetic data ({args.train} training images, small_cnn, 1 + 2 epochs), seeds "
             f"{args.seeds}, combos {list(COMBOS)}, budgets {list(BUDGETS)}: {trainings} training trials. Serial "
             f"and a local Ray with {args.workers} workers, every trial with 1 CPU and 1 torch thread.", "",
             "| | serial | ray | serial / ray |", "|---|---|---|---|",
             f"| wall time (s) | {serial_s:.1f} | {ray_s:.1f} | {serial_s / ray_s:.2f}x |", "",
             f"Results identical (compare.json's summary and per-seed cells, every number): {identical}.", "",
             f"Ray's own cost: starting the local Ray {start.seconds:.1f} s; a no-op trial's round trip "
             f"{1e3 * overhead['one_at_a_time_s']:.1f} ms one at a time (median of {args.noop}), "
             f"{1e3 * overhead['batch_per_trial_s']:.2f} ms per trial when {args.noop} are submitted together."]
    write("ray_executor", data, "\n".join(lines))


if __name__ == "__main__":
    main()
