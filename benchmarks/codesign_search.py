"""Does stage 1's optimiser (Optuna NSGA-II, ``quanos codesign --search nsga2``) find the co-design
front without evaluating every hardware point, and does it beat random sampling of as many points?

Reference: the exhaustive stage 1 over the 200-point bitfusion45 grid of benchmarks/codesign.py x
its 5 budgets (exact ILP each), with ANS scores of small_cnn after 3 float epochs on mnist5k (seed
0). Each method sees a number of distinct hardware points (NSGA-II with 25, 50, 100 trials; random
sampling of as many distinct grid points, seeded) and keeps the Pareto front of its candidates in
(predicted error, energy, latency, area). Scored against the exhaustive front: its recall (share of
the exhaustive front's candidates found) and IGD+ (mean distance from each exhaustive front
candidate to the nearest found one that does not dominate it, in log10 units normalised by the
exhaustive front's range per objective; 0 = the whole front found). Seeds 0, 1, 2.

    OMP_NUM_THREADS=1 python benchmarks/codesign_search.py
    python benchmarks/codesign_search.py --smoke       # 8 grid points, 6 trials, 1 seed
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from codesign import BUDGETS, SWEEP
from common import quiet, write

from energy_models.dse import expand_grid
from energy_models.pareto import pareto_mask

TRIALS = (25, 50, 100)
SEEDS = (0, 1, 2)
OBJECTIVES = ("energy", "latency", "area")
COLUMNS = ("predicted_error", "energy_pj", "latency_s", "area_mm2")
SMOKE_SWEEP = {"array.rows": [8, 16], "array.cols": [8, 16], "batch": [1, 16]}


def space_and_grid(smoke: bool):
    import torch

    import quanos_hw as q
    from quanos_hw.codesign import CodesignConfig
    from quanos_hw.codesign.run import network_layers
    from quanos_hw.codesign.stage1 import Space
    from quanos_hw.sensitivity import compute_sensitivity

    c = dataclasses.replace(CodesignConfig(), dataset="mnist5k", model="small_cnn", seed=0).resolve()
    data = q.load_dataset("mnist5k")
    torch.manual_seed(0)
    model = q.create_model("small_cnn", in_channels=1, quantize=False, mean=data.mean, std=data.std)
    q.train(model, data.train, q.TrainConfig(epochs=3, augment="shift"), progress=False)
    scores = compute_sensitivity("ans", model, data.train, **c.sensitivity_options("ans"))
    space = Space(c.accelerator(), network_layers(c), scores, BUDGETS[1:4:2] if smoke else BUDGETS,
                  tuple(sorted(c.bit_choices)), c.input_bit_width)
    sweep = SMOKE_SWEEP if smoke else SWEEP
    return space, sweep, expand_grid(sweep, limit=None)


def _key(point: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in point.items()))


def front(points: list[dict], table) -> tuple[set, np.ndarray]:
    """(the front's candidates as (point key, bits), their log10 costs)."""
    costs = np.log10(np.stack([np.maximum(table.column(c), 1e-300) for c in COLUMNS], axis=1))
    mask = pareto_mask(costs)
    keys = {(_key(points[int(p)]), b) for p, b, m in zip(table.columns["point"], table.columns["bits"], mask) if m}
    return keys, costs[mask]


def igd_plus(reference: np.ndarray, found: np.ndarray) -> float:
    """IGD+ (Ishibuchi et al. 2015) of ``found`` against ``reference``, both minimised, after scaling
    each objective by the reference front's range."""
    scale = np.ptp(reference, axis=0)
    scale[scale == 0] = 1.0
    ref, got = reference / scale, found / scale
    gaps = np.maximum(got[None, :, :] - ref[:, None, :], 0.0)  # (reference, found, objective)
    return float(np.mean(np.min(np.sqrt((gaps ** 2).sum(axis=2)), axis=1)))


def score(reference: tuple[set, np.ndarray], points: list[dict], table) -> dict:
    keys, costs = front(points, table)
    return {"points": len(points), "front": len(keys), "recall": len(keys & reference[0]) / len(reference[0]),
            "igd_plus": igd_plus(reference[1], costs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny run to check the script (not the benchmark)")
    args = parser.parse_args()
    quiet()
    from quanos_hw.codesign.search import search
    from quanos_hw.codesign.stage1 import evaluate

    space, sweep, grid = space_and_grid(args.smoke)
    start = time.perf_counter()
    exhaustive = evaluate(space, grid)
    exhaustive_s = time.perf_counter() - start
    reference = front(grid, exhaustive)
    print(f"exhaustive: {len(grid)} points, {len(exhaustive)} candidates, front {len(reference[0])}, "
          f"{exhaustive_s:.1f} s", flush=True)
    rows = []
    for trials in (6,) if args.smoke else TRIALS:
        for seed in SEEDS[:1] if args.smoke else SEEDS:
            start = time.perf_counter()
            points, table = search(space, sweep, list(OBJECTIVES), {}, trials, seed)
            nsga_s = time.perf_counter() - start
            picked = np.random.default_rng(seed).choice(len(grid), size=len(points), replace=False)
            sample = [grid[int(i)] for i in picked]
            start = time.perf_counter()
            random_table = evaluate(space, sample)
            random_s = time.perf_counter() - start
            row = {"trials": trials, "seed": seed, "nsga2": {**score(reference, points, table), "seconds": nsga_s},
                   "random": {**score(reference, sample, random_table), "seconds": random_s}}
            rows.append(row)
            print(row, flush=True)
    summary = {}
    for trials in sorted({r["trials"] for r in rows}):
        group = [r for r in rows if r["trials"] == trials]
        summary[trials] = {m: {k: (float(np.mean([r[m][k] for r in group])), float(np.std([r[m][k] for r in group])))
                               for k in ("points", "recall", "igd_plus", "seconds")} for m in ("nsga2", "random")}
    lines = ["# Stage 1's optimiser vs the exhaustive grid (quanos codesign --search nsga2)", "",
             f"Exhaustive reference: {len(grid)} hardware points x {len(space.budgets)} budgets = {len(exhaustive)} "
             f"candidates in {exhaustive_s:.1f} s; {len(reference[0])} on the front of (predicted error, energy, "
             "latency, area). Per method and trial count, mean ± std over seeds "
             f"{', '.join(str(r['seed']) for r in rows if r['trials'] == rows[0]['trials'])}: distinct points "
             "evaluated, recall of the exhaustive front, IGD+ (0 = the whole front found; normalised log10 units), "
             "seconds.", "",
             "| trials | method | points evaluated | recall % | IGD+ | seconds |", "|---|---|---|---|---|---|"]
    for trials, by_method in summary.items():
        for method, s in by_method.items():
            lines.append(f"| {trials} | {'NSGA-II' if method == 'nsga2' else 'random, as many points'} | "
                         f"{s['points'][0]:.0f} | {100 * s['recall'][0]:.1f} ± {100 * s['recall'][1]:.1f} | "
                         f"{s['igd_plus'][0]:.4f} ± {s['igd_plus'][1]:.4f} | {s['seconds'][0]:.1f} |")
    write("codesign_search_smoke" if args.smoke else "codesign_search",
          {"smoke": args.smoke, "sweep": sweep, "budgets": list(space.budgets), "grid_points": len(grid),
           "candidates": len(exhaustive), "front": len(reference[0]), "exhaustive_s": exhaustive_s, "runs": rows,
           "summary": {str(k): v for k, v in summary.items()}}, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
