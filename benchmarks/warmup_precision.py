"""Does the warm-up precision change what QUANOS decides? Algorithm 1 of the paper warms up "a
randomly initialized DNN (say, 16-bit)" before measuring ANS; `quanos run` warms up in float by
default (`warmup_bits: null`). This runs only the warm-up and the first ANS phase of the pipeline
(mnist5k, small_cnn, the default schedule) once with a float and once with a 16-bit warm-up, and
compares the per-layer ANS (Spearman rank correlation) and the bits the QUANOS rule gives.

    python benchmarks/warmup_precision.py            # seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
from itertools import permutations

from common import RESULTS, quiet, write


def warmup_and_ans(warmup_bits: int | None, seed: int) -> dict:
    """The pipeline's own ``warmup`` and ``ans_1`` phases (resumable folder under results/runs/)."""
    from quanos_hw.pipeline import RunConfig
    from quanos_hw.pipeline.run import QuanosRunner, prepare

    label = "float" if warmup_bits is None else f"{warmup_bits}bit"
    out = RESULTS / "runs" / f"warmup_precision-{label}-seed{seed}"
    config = dataclasses.replace(RunConfig(), warmup_bits=warmup_bits, seed=seed, out_dir=str(out), device="cpu")
    setup = prepare(config, resume=(out / "config.json").is_file())
    runner = QuanosRunner(setup.config, setup.data, setup.ws, setup.device, progress=False, log=print)
    warm = runner.warmup()
    ans = runner.ans_phase("ans_1", "warmup")
    return {"warmup_bits": warmup_bits, "warmup_test_accuracy": warm["test_accuracy"],
            "warmup_train_loss": warm["history"][-1]["loss"] if warm["history"] else None,
            "ans": ans["ans"], "weight_bits": {k: v["weight_bit_width"] for k, v in ans["bits"].items()},
            "ans_eps": setup.config.ans_eps, "warmup_epochs": setup.config.warmup_epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bits", type=int, default=16, help="the quantized warm-up's width (default 16)")
    args = parser.parse_args()
    quiet()
    from scipy.stats import spearmanr

    rows = [warmup_and_ans(None, args.seed), warmup_and_ans(args.bits, args.seed)]
    layers = list(rows[0]["ans"])
    a, b = [rows[0]["ans"][n] for n in layers], [rows[1]["ans"][n] for n in layers]
    rho = float(spearmanr(a, b)[0])
    # exact one-sided permutation p-value (5 layers: the asymptotic one is meaningless)
    perms = list(permutations(b))
    p = sum(float(spearmanr(a, q)[0]) >= rho - 1e-12 for q in perms) / len(perms)
    same_bits = rows[0]["weight_bits"] == rows[1]["weight_bits"]
    lines = ["# Warm-up precision: float vs quantized (Algorithm 1)", "",
             f"mnist5k, small_cnn, default schedule ({rows[0]['warmup_epochs']} warm-up epochs, ANS at FGSM eps "
             f"{rows[0]['ans_eps']:g}), seed {args.seed}; only the pipeline's `warmup` and `ans_1` phases, with "
             f"`warmup_bits` null (float, the default) and {args.bits}.", "",
             "| warm-up | warm-up test acc % | ANS per layer (" + ", ".join(layers) + ") | weight bits |",
             "|---|---|---|---|"]
    for r in rows:
        label = "float" if r["warmup_bits"] is None else f"{r['warmup_bits']}-bit"
        lines.append(f"| {label} | {100 * r['warmup_test_accuracy']:.1f} | "
                     + " ".join(f"{r['ans'][n]:.3f}" for n in layers) + " | "
                     + " ".join(str(r["weight_bits"][n]) for n in layers) + " |")
    lines += ["", f"Spearman rank correlation of the two ANS vectors: {rho:+.2f} (exact one-sided permutation "
              f"p {p:.3f}, {len(layers)} layers). "
              + ("The QUANOS rule gives the same bits after both warm-ups." if same_bits else
                 "The QUANOS rule gives different bits after the two warm-ups: it sets bits from the ANS values, "
                 "not only their ranks" + (", and here only the values move." if rho > 1 - 1e-9 else "."))]
    write("warmup_precision", {"seed": args.seed, "rows": rows, "spearman_ans": rho, "spearman_p": p,
                               "same_bits": same_bits}, "\n".join(lines))


if __name__ == "__main__":
    main()
