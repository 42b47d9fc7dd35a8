"""QUANOS vs uniform precision on offline data, 3 seeds per dataset, beside the paper's claims.

Runs ``quanos run`` for mnist5k (small_cnn, the embedded default schedule: 3 float warm-up + 3 QAT
epochs) and digits (small_cnn, 8 + 8 epochs) with seeds 0, 1, 2, then aggregates mean and std of
every model's clean / FGSM / PGD / black-box accuracy, energy savings on each MAC architecture,
size and compression. Run folders (with checkpoints) go to benchmarks/results/runs/ and are
reused, so an interrupted benchmark resumes.

    python benchmarks/quanos_vs_uniform.py
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from common import RESULTS, quiet, write

SCHEDULES = {"mnist5k": dict(warmup_epochs=3, qat_epochs=3), "digits": dict(warmup_epochs=8, qat_epochs=8)}
ARCHS = ("data_gated", "subword_parallel", "bitfusion", "bit_serial")


def run_one(dataset: str, seed: int) -> dict:
    from quanos_hw.pipeline import RunConfig, run

    out = RESULTS / "runs" / f"{dataset}-seed{seed}"
    config = dataclasses.replace(RunConfig(), dataset=dataset, seed=seed, out_dir=str(out), **SCHEDULES[dataset])
    if (out / "report.json").is_file() or (out / "config.json").is_file():
        return run(config, resume=True, progress=False, log=print).report
    return run(config, progress=False, log=print).report


def _stat(values) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def aggregate(reports: list[dict]) -> dict:
    from quanos_hw.robustness import accuracy_columns

    out = {}
    reference = {f"uniform{b}" for b in reports[0]["config"]["uniform_bits"]}
    names = [n for n in reports[0]["models"] if all(n in r["models"] for r in reports)
             and (not n.startswith("uniform") or n in reference)]  # other widths appear as the iso-size row
    for name in names + ["iso_size"]:
        ms = [r["models"][name if name != "iso_size" else f"uniform{r['iso_size_bits']}"] for r in reports]
        rob = [m["robustness"] for m in ms]
        columns = [accuracy_columns(x) for x in rob]
        entry = {"accuracy": {label: _stat([c[label] for c in columns]) for label in columns[0]},
                 "compression_vs_fp32": _stat([m["compression_vs_fp32"] for m in ms]),
                 "checks_failed": sum(not x["all_checks_passed"] for x in rob)}
        if ms[0]["energy"] is not None:
            entry["mean_weight_bits"] = _stat([m["mean_weight_bits"] for m in ms])
            entry["size_bits"] = _stat([m["size_bits"] for m in ms])
            for ref in ("16", "8"):
                key = f"saving_vs_uniform{ref}"
                entry[key] = {a: _stat([m["energy"][a][key] for m in ms]) for a in ARCHS}
        if name == "iso_size":
            entry["bits"] = [r["iso_size_bits"] for r in reports]
        out[name] = entry
    return out


def verdict(reports: list[dict]) -> dict:
    """The paper's three claims vs uniform 8-bit, per seed then averaged (the adversarial one under
    the report's headline attack, PGD by default)."""
    from quanos_hw.robustness import reference_accuracy, reference_label

    q = [r["models"]["quanos"] for r in reports]
    u8 = [r["models"]["uniform8"] for r in reports]
    attack = [100 * (reference_accuracy(a["robustness"]) - reference_accuracy(b["robustness"])) for a, b in zip(q, u8)]
    blackbox = [100 * (reference_accuracy(a["robustness"], True) - reference_accuracy(b["robustness"], True))
                for a, b in zip(q, u8)]
    clean = [100 * (a["robustness"]["clean"] - b["robustness"]["clean"]) for a, b in zip(q, u8)]
    comp8 = [b["size_bits"] / a["size_bits"] for a, b in zip(q, u8)]
    comp32 = [a["compression_vs_fp32"] for a in q]
    energy = {a: [m["energy"][a]["saving_vs_uniform8"] for m in q] for a in ARCHS}
    return {"attack": reference_label(q[0]["robustness"]),
            "attack_gain_points": _stat(attack), "blackbox_gain_points": _stat(blackbox),
            "clean_change_points": _stat(clean),
            "compression_vs_uniform8": _stat(comp8), "compression_vs_fp32": _stat(comp32),
            "energy_saving_vs_uniform8": {a: _stat(v) for a, v in energy.items()},
            "meets_adversarial_claim": float(np.mean(attack)) >= 3.0,
            "meets_compression_claim_vs_uniform8": float(np.mean(comp8)) > 5.0,
            "meets_compression_claim_vs_fp32": float(np.mean(comp32)) > 5.0,
            "meets_energy_claim": {a: float(np.mean(v)) > 2.0 for a, v in energy.items()}}


def pm(s: dict, scale: float = 100.0, digits: int = 1) -> str:
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}"


def table(dataset: str, agg: dict) -> list[str]:
    columns = list(agg["quanos"]["accuracy"])
    head = ["model", "mean w bits"] + [f"{c} %" for c in columns] + [f"×u16 / ×u8 {a}" for a in ARCHS] + [
        "× vs fp32", "checks failed"]
    lines = [f"### {dataset}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in agg.items():
        bits = pm(e["mean_weight_bits"], 1, 2) if "mean_weight_bits" in e else "32"
        label = name if name != "iso_size" else f"iso-size (uniform {e['bits']})"
        row = [label, bits] + [pm(e["accuracy"][c]) for c in columns]
        row += ([f"{e['saving_vs_uniform16'][a]['mean']:.2f} / {e['saving_vs_uniform8'][a]['mean']:.2f}" for a in ARCHS]
                if "saving_vs_uniform16" in e else ["n/a"] * len(ARCHS))
        row += [pm(e["compression_vs_fp32"], 1, 2), str(e["checks_failed"])]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=["mnist5k", "digits"])
    args = parser.parse_args()
    quiet()
    results, lines = {}, ["# QUANOS vs uniform precision (offline data)", ""]
    lines += [f"`quanos run` per dataset and seed (seeds {args.seeds}); mean ± std over seeds. Schedules: "
              + "; ".join(f"{d} {s['warmup_epochs']} float warm-up + {s['qat_epochs']} QAT epochs"
                          for d, s in SCHEDULES.items() if d in args.datasets)
              + ". Savings are E(uniform 16 or 8 bit) / E(model) on each architecture (Horowitz 45 nm, "
              "weights from DRAM, activations in SRAM). Accuracy on the whole test set.", ""]
    claims = ["## The paper's claims (CIFAR-10/100 vs uniform 8-bit at iso-accuracy) against these runs", "",
              "| dataset | attack | accuracy under it vs u8 (claim +3 to +4 points) | black-box vs u8 | "
              "clean accuracy vs u8 | "
              "compression vs u8 | compression vs fp32 (claim > 5×) | energy saving vs u8 (claim > 2×) |",
              "|---|---|---|---|---|---|---|---|"]
    for dataset in args.datasets:
        reports = [run_one(dataset, seed) for seed in args.seeds]
        agg, v = aggregate(reports), verdict(reports)
        results[dataset] = {"models": agg, "verdict": v, "seeds": args.seeds,
                            "quanos_bits": [list(b["weight_bit_width"] for b in r["bits"].values()) for r in reports]}
        lines += table(dataset, agg) + [
            "", "QUANOS bits per layer by seed: " + "; ".join(
                " ".join(map(str, b)) for b in results[dataset]["quanos_bits"]), ""]
        energy = ", ".join(f"{a} {pm(v['energy_saving_vs_uniform8'][a], 1, 2)}" for a in ARCHS)
        met = [a for a, ok in v["meets_energy_claim"].items() if ok]
        energy_verdict = "met on " + ", ".join(met) if met else "not met"
        adversarial = "not met"
        if v["meets_adversarial_claim"]:
            cost = v["clean_change_points"]["mean"]
            adversarial = "met" if cost > -1.0 else f"met, not at iso-accuracy: clean {cost:+.1f}"
        claims.append(
            f"| {dataset} | {v['attack']} | {pm(v['attack_gain_points'], 1)} ({adversarial}) | "
            f"{pm(v['blackbox_gain_points'], 1)} | "
            f"{pm(v['clean_change_points'], 1)} | {pm(v['compression_vs_uniform8'], 1, 2)}× | "
            f"{pm(v['compression_vs_fp32'], 1, 2)}× ({'met' if v['meets_compression_claim_vs_fp32'] else 'not met'}) | "
            f"{energy} ({energy_verdict}) |")
    claims += ["", "Compression \"> 5×\" can only be read against float32 here: against uniform 8-bit it would need "
               "fewer than 1.6 bits per weight on average, below the rule's 2-bit floor. These runs are not at "
               "iso-accuracy: the clean-accuracy column shows what QUANOS gave up. A white-box PGD gain that the "
               "black-box column does not share is a warning sign that part of it comes from harder-to-use "
               "gradients (the coarsely quantized last layers), not from robustness an attacker cannot get around."]
    write("quanos_vs_uniform", {"results": results}, "\n".join(lines + claims))


if __name__ == "__main__":
    main()
