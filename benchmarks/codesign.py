"""Co-design (``quanos codesign``) on mnist5k and digits (small_cnn), 2 seeds: does choosing the bits
and the accelerator together buy accuracy and worst-case robustness over picking the accelerator
first and the bits after, and does stage 1's proxy (the ILP's predicted error) rank the finalists
as training does?

Stage 1 sweeps 200 hardware points of bitfusion45 (array rows x cols x MAC architecture x weight
buffer x batch) x 5 energy budgets (exact ILP each); stage 2 trains and attacks 6 finalists and
the baselines (uniform 8 and 4 bits and the QUANOS rule on the best point per objective) with the
dataset's schedule of benchmarks/quanos_vs_uniform.py. Reported per dataset and seed: Spearman
of predicted error vs measured clean and worst-case accuracy, and per objective the best finalist
against the best uniform design at equal or lower energy. Run folders go to
benchmarks/results/codesign_runs/ and are resumed.

    OMP_NUM_THREADS=1 python benchmarks/codesign.py --jobs 2   # the full benchmark, 2 runs at a time
    python benchmarks/codesign.py --smoke               # 2 points x 2 budgets, 2 finalists, 1 seed, 1+1 epochs
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from common import RESULTS, quiet, write

#: dataset -> (warm-up epochs, QAT epochs), as benchmarks/quanos_vs_uniform.py
SCHEDULES = {"mnist5k": (3, 3), "digits": (8, 8)}
#: 5 x 5 x 2 x 2 x 2 = 200 hardware points
SWEEP = {"array.rows": [4, 8, 16, 32, 64], "array.cols": [4, 8, 16, 32, 64],
         "mac.architecture": ["bitfusion", "data_gated"], "memory.buffers.wbuf.capacity_bytes": [16384, 65536],
         "batch": [1, 16]}
BUDGETS = (0.2, 0.25, 0.3, 0.4, 0.5)
SMOKE_SWEEP = {"array.rows": [8, 16]}


def run_one(dataset: str, seed: int, smoke: bool) -> dict:
    from quanos_hw.codesign import CodesignConfig, codesign

    warmup, qat = (1, 1) if smoke else SCHEDULES[dataset]
    out = RESULTS / "codesign_runs" / f"{dataset}-seed{seed}{'-smoke' if smoke else ''}"
    config = dataclasses.replace(
        CodesignConfig(), dataset=dataset, model="small_cnn", seed=seed, out_dir=str(out), warmup_epochs=warmup,
        qat_epochs=qat, sweep=SMOKE_SWEEP if smoke else SWEEP, budgets=BUDGETS[1:4:2] if smoke else BUDGETS,
        finalists=2 if smoke else 6, search="grid", **({"robustness": "quick"} if smoke else {}))
    start = time.perf_counter()
    quiet()
    name = f"{dataset}-seed{seed}"
    result = codesign(config, resume=(out / "config.json").is_file(), progress=False,
                      log=lambda *a: print(f"[{name}]", *a, flush=True))
    return {**result.report, "wall_s": time.perf_counter() - start}


def _dominated_by(finalist: dict, baselines: list[dict]) -> list[str]:
    """The uniform baselines with energy <= and clean and worst-case accuracy >= the finalist's."""
    return sorted({f"{b['design']} on the {b['objective']} point" for b in baselines
                   if b["design"].startswith("uniform") and b["energy_uj"] <= finalist["energy_uj"]
                   and b["clean"] >= finalist["clean"] and b["worst_case"] >= finalist["worst_case"]})


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}"


def summarise(reports: dict[str, dict]) -> tuple[dict, str]:
    data = {"runs": {}, "proxy": {}}
    lines = ["# Co-design vs accelerator first (quanos codesign)", "",
             "Per run: Spearman of the negated predicted error with the measured accuracy of the finalists; per "
             "objective, the finalist best for it against the most accurate uniform design (8 or 4 bits) on that "
             "objective's accelerator-first point at equal or lower energy. Accuracies in %.", "",
             "| run | points x budgets | candidates | Spearman clean | Spearman worst case | objective | finalist "
             "(energy µJ, clean, worst) | uniform (energy µJ, clean, worst) | Δ clean | Δ worst |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in reports.items():
        s1, proxy = r["stage1"], r["proxy_spearman"]
        data["runs"][name] = {"stage1": s1, "proxy_spearman": proxy, "comparison": r["comparison"],
                              "finalists": r["finalists"], "baselines": r["baselines"], "wall_s": r["wall_s"],
                              "timing_s": r["timing_s"]}
        for row in r["comparison"]:
            fin = f"{row['finalist']} ({row['finalist_energy_uj']:.4g}, {_pct(row['finalist_clean'])}, " \
                  f"{_pct(row['finalist_worst_case'])})"
            if row["uniform"]:
                uni = f"{row['uniform']} ({row['uniform_energy_uj']:.4g}, {_pct(row['uniform_clean'])}, " \
                      f"{_pct(row['uniform_worst_case'])})"
                d_clean = f"{100 * (row['finalist_clean'] - row['uniform_clean']):+.1f}"
                d_worst = f"{100 * (row['finalist_worst_case'] - row['uniform_worst_case']):+.1f}"
            else:
                uni, d_clean, d_worst = "none at equal or lower energy", "", ""
            rho = {k: "n/a" if v is None else f"{v:+.2f}" for k, v in proxy.items()}
            lines.append(f"| {name} | {s1['points']} x {len(r['config']['budgets'])} | {s1['candidates']} | "
                         f"{rho['clean']} | {rho['worst_case']} | {row['objective']} | {fin} | {uni} | {d_clean} | "
                         f"{d_worst} |")
    for metric in ("clean", "worst_case"):
        values = [r["proxy_spearman"][metric] for r in reports.values() if r["proxy_spearman"][metric] is not None]
        data["proxy"][metric] = {"mean": float(np.mean(values)), "n": len(values)} if values else None
    lines += ["", "## Finalists a uniform design matches", "",
              "A finalist is dominated when some uniform design (8 or 4 bits, on any objective's accelerator-first "
              "point) costs no more energy and is at least as accurate, clean and worst case.", "",
              "| run | finalists dominated by a uniform design | not dominated (energy µJ, clean, worst) |",
              "|---|---|---|"]
    for name, r in reports.items():
        dominated = {f["candidate"]: _dominated_by(f, r["baselines"]) for f in r["finalists"]}
        data["runs"][name]["dominated"] = dominated
        free = [f"{f['candidate']} ({f['energy_uj']:.4g}, {_pct(f['clean'])}, {_pct(f['worst_case'])})"
                for f in r["finalists"] if not dominated[f["candidate"]]]
        lines.append(f"| {name} | {sum(map(bool, dominated.values()))} of {len(dominated)} | {', '.join(free)} |")
    work = {k: r["timing_s"]["stage1_s"] + sum(r["timing_s"]["seconds"].values()) for k, r in reports.items()}
    lines += ["", "Seconds of work per run (stage 1 and every phase, as the run recorded them, so a resumed run "
              "counts what it skipped): "
              + ", ".join(f"{k} {v:.0f}" for k, v in work.items()), ""]
    return data, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(SCHEDULES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--smoke", action="store_true", help="a tiny run to check the script (not the benchmark)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs (dataset x seed) at a time, each in its own process; each run's result does not "
                             "depend on it")
    args = parser.parse_args()
    quiet()
    seeds = args.seeds[:1] if args.smoke else args.seeds
    runs = [(d, s) for d in args.datasets for s in seeds]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            run_datasets, run_seeds = zip(*runs)
            results = list(pool.map(run_one, run_datasets, run_seeds, itertools.repeat(args.smoke)))
    else:
        results = [run_one(d, s, args.smoke) for d, s in runs]
    reports = {f"{d}-seed{s}": r for (d, s), r in zip(runs, results)}
    data, markdown = summarise(reports)
    write("codesign_smoke" if args.smoke else "codesign", {"smoke": args.smoke, "seeds": seeds, "sweep": SWEEP,
                                                           "budgets": list(BUDGETS), **data}, markdown)


if __name__ == "__main__":
    main()
