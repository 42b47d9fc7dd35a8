"""QUANOS vs uniform precision on offline data, 3 seeds per schedule, beside the paper's claims.

Runs ``quanos run`` for mnist5k (small_cnn) at two training schedules, the embedded default (3
float warm-up + 3 QAT epochs) and a longer one (3 + 10 QAT epochs, as ``quanos run --set
qat_epochs=10``), and for digits (small_cnn, 8 + 8 epochs), with seeds 0, 1, 2; then aggregates
mean and std of every model's clean / FGSM / PGD / black-box / worst-case accuracy (the default
worst-case suite: every configured and transferred attack, APGD-CE also through the float twin,
and Square, on the first 200 test images), energy savings on each MAC architecture, size and
compression. The verdict against the paper's claims uses the worst-case robust accuracy; a last
table says which conclusions hold at both mnist5k schedules. Run folders (with checkpoints) go to
benchmarks/results/runs/ and are reused, so an interrupted benchmark resumes. The seeds of a
schedule are independent trials: ``--executor ray`` runs them on Ray (quanos_hw/executor; the results
are those of the serial run at the same ``--trial-resources cpu``).

    python benchmarks/quanos_vs_uniform.py
    python benchmarks/quanos_vs_uniform.py --executor ray --trial-resources cpu=1   # seeds side by side
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from common import RESULTS, quiet, write

#: schedule name -> (dataset, warm-up epochs, QAT epochs); run folders are named after the schedule
SCHEDULES = {"mnist5k": ("mnist5k", 3, 3), "mnist5k-qat10": ("mnist5k", 3, 10), "digits": ("digits", 8, 8)}
#: the two schedules of one dataset whose conclusions are compared
SCHEDULE_PAIR = ("mnist5k", "mnist5k-qat10")
ARCHS = ("data_gated", "subword_parallel", "bitfusion", "bit_serial")


def run_one(_shared, schedule: str, seed: int) -> dict:
    """One schedule and seed: a trial (``_shared`` unused)."""
    from quanos_hw.pipeline import RunConfig, run

    dataset, warmup, qat = SCHEDULES[schedule]
    out = RESULTS / "runs" / f"{schedule}-seed{seed}"
    config = dataclasses.replace(RunConfig(), dataset=dataset, seed=seed, out_dir=str(out), warmup_epochs=warmup,
                                 qat_epochs=qat)
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


def _gain(q: list[dict], u8: list[dict], accuracy) -> list[float]:
    """Per seed, QUANOS minus uniform 8-bit in points of ``accuracy(robustness dict)``."""
    return [100 * (accuracy(a["robustness"]) - accuracy(b["robustness"])) for a, b in zip(q, u8)]


def verdict(reports: list[dict]) -> dict:
    """The paper's three claims vs uniform 8-bit, per seed then averaged: the adversarial one under
    the worst-case robust accuracy (also given: the headline white-box attack, PGD by default, and
    its transfer)."""
    from quanos_hw.robustness import reference_accuracy, reference_label, worst_case_accuracy

    q = [r["models"]["quanos"] for r in reports]
    u8 = [r["models"]["uniform8"] for r in reports]
    attack = _gain(q, u8, reference_accuracy)
    blackbox = _gain(q, u8, lambda rob: reference_accuracy(rob, True))
    worst = _gain(q, u8, worst_case_accuracy)
    clean = _gain(q, u8, lambda rob: rob["clean"])
    masking = {name: sum(r["models"][name]["robustness"]["worst_case"]["masking_warning"] for r in reports)
               for name in ("quanos", "uniform8")}
    comp8 = [b["size_bits"] / a["size_bits"] for a, b in zip(q, u8)]
    comp32 = [a["compression_vs_fp32"] for a in q]
    energy = {a: [m["energy"][a]["saving_vs_uniform8"] for m in q] for a in ARCHS}
    return {"attack": reference_label(q[0]["robustness"]), "worst_case_eps": q[0]["robustness"]["worst_case"]["eps"],
            "worst_case_samples": q[0]["robustness"]["worst_case"]["samples"],
            "worst_case_gain_points": _stat(worst), "masking_warnings": masking,
            "attack_gain_points": _stat(attack), "blackbox_gain_points": _stat(blackbox),
            "clean_change_points": _stat(clean),
            "compression_vs_uniform8": _stat(comp8), "compression_vs_fp32": _stat(comp32),
            "energy_saving_vs_uniform8": {a: _stat(v) for a, v in energy.items()},
            "meets_adversarial_claim": float(np.mean(worst)) >= 3.0,
            "meets_adversarial_claim_white_box": float(np.mean(attack)) >= 3.0,
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


#: the QUANOS - uniform 8-bit differences compared across the two schedules (verdict key, label)
CONCLUSIONS = (("worst_case_gain_points", "worst-case robust accuracy"), ("attack_gain_points", "white-box {attack}"),
               ("blackbox_gain_points", "black-box {attack}"), ("clean_change_points", "clean accuracy"))


def direction(stat: dict) -> str:
    """'higher' / 'lower' when the mean is more than one std (over seeds) and 1 point from zero,
    else 'no clear difference'."""
    mean, std = stat["mean"], stat["std"]
    if abs(mean) <= max(std, 1.0):
        return "no clear difference"
    return "higher" if mean > 0 else "lower"


def schedule_table(results: dict) -> list[str]:
    """Which QUANOS vs uniform 8-bit conclusions hold at both schedules of SCHEDULE_PAIR."""
    a, b = (results[name]["verdict"] for name in SCHEDULE_PAIR)
    lines = [f"## Which conclusions survive the training schedule ({' vs '.join(SCHEDULE_PAIR)})", "",
             "QUANOS minus uniform 8-bit in points (mean ± std over seeds); a direction counts when the mean is "
             "more than one std and 1 point from zero.", "",
             f"| difference | {SCHEDULE_PAIR[0]} | {SCHEDULE_PAIR[1]} | holds at both |", "|---|---|---|---|"]
    for key, label in CONCLUSIONS:
        da, db = direction(a[key]), direction(b[key])
        same = "yes" if da == db else "no"
        lines.append(f"| QUANOS {label.format(attack=a['attack'])} | {pm(a[key], 1)} ({da}) | {pm(b[key], 1)} ({db}) "
                     f"| {same} ({da if da == db else 'changes'}) |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--schedules", nargs="+", choices=list(SCHEDULES), default=list(SCHEDULES))
    parser.add_argument("--executor", default="serial", help="serial (default) or ray: where the seeds run")
    parser.add_argument("--trial-resources", default="", metavar="cpu=N,gpu=M", help="each seed's resources")
    args = parser.parse_args()
    quiet()
    from quanos_hw.executor import ExecutorConfig, Trial, TrialResources, make_executor

    executor = make_executor(ExecutorConfig(name=args.executor, resources=TrialResources.parse(args.trial_resources)))
    results, lines = {}, ["# QUANOS vs uniform precision (offline data)", ""]
    lines += [f"`quanos run` per schedule and seed (seeds {args.seeds}); mean ± std over seeds. Schedules: "
              + "; ".join(f"{name}: {d}, {w} float warm-up + {q} QAT epochs"
                          for name, (d, w, q) in SCHEDULES.items() if name in args.schedules)
              + ". Savings are E(uniform 16 or 8 bit) / E(model) on each architecture (Horowitz 45 nm, "
              "weights from DRAM, activations in SRAM). Clean, FGSM, PGD and black-box accuracy on the whole test "
              "set; worst-case robust accuracy (an image counts only if it survives FGSM, PGD, their transfer from "
              "the surrogate, APGD-CE with the straight-through estimator and through the float twin, and Square) "
              "on the first 200 test images, the `quanos run` default (`--set robustness=full` runs the complete "
              "suite on every image).", ""]
    claims = ["## The paper's claims (CIFAR-10/100 vs uniform 8-bit at iso-accuracy) against these runs", "",
              "| schedule | worst-case robust accuracy vs u8 (claim +3 to +4 points) | white-box attack | "
              "under it vs u8 | black-box vs u8 | clean accuracy vs u8 | masking warnings (quanos / u8 runs) | "
              "compression vs u8 | compression vs fp32 (claim > 5×) | energy saving vs u8 (claim > 2×) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for schedule in args.schedules:
        reports = executor.run([Trial(f"{schedule}-seed{seed}", run_one, (schedule, seed)) for seed in args.seeds])
        agg, v = aggregate(reports), verdict(reports)
        results[schedule] = {"models": agg, "verdict": v, "seeds": args.seeds, "schedule": SCHEDULES[schedule],
                             "quanos_bits": [list(b["weight_bit_width"] for b in r["bits"].values()) for r in reports]}
        lines += table(schedule, agg) + [
            "", "QUANOS bits per layer by seed: " + "; ".join(
                " ".join(map(str, b)) for b in results[schedule]["quanos_bits"]), ""]
        energy = ", ".join(f"{a} {pm(v['energy_saving_vs_uniform8'][a], 1, 2)}" for a in ARCHS)
        met = [a for a, ok in v["meets_energy_claim"].items() if ok]
        energy_verdict = "met on " + ", ".join(met) if met else "not met"
        adversarial = "not met"
        if v["meets_adversarial_claim"]:
            cost = v["clean_change_points"]["mean"]
            adversarial = "met" if cost > -1.0 else f"met, not at iso-accuracy: clean {cost:+.1f}"
        masking = v["masking_warnings"]
        claims.append(
            f"| {schedule} | {pm(v['worst_case_gain_points'], 1)} ({adversarial}) | {v['attack']} | "
            f"{pm(v['attack_gain_points'], 1)} | {pm(v['blackbox_gain_points'], 1)} | "
            f"{pm(v['clean_change_points'], 1)} | {masking['quanos']} / {masking['uniform8']} | "
            f"{pm(v['compression_vs_uniform8'], 1, 2)}× | "
            f"{pm(v['compression_vs_fp32'], 1, 2)}× ({'met' if v['meets_compression_claim_vs_fp32'] else 'not met'}) | "
            f"{energy} ({energy_verdict}) |")
    claims += ["", " ".join((
        "The adversarial claim is judged on the worst-case robust accuracy at the headline eps (AutoAttack's",
        "protocol), not on one white-box attack: quantized networks can mask gradients, which raises white-box",
        "numbers without robustness an attacker cannot get around; a masking warning counts the runs where a",
        "gradient-free or transfer attack broke more than 2% of the images that every white-box attack left.",
        "Compression \"> 5×\" can only be read against float32 here: against uniform 8-bit it would need fewer",
        "than 1.6 bits per weight on average, below the rule's 2-bit floor. These runs are not at iso-accuracy:",
        "the clean-accuracy column shows what QUANOS gave up.")), ""]
    executor.close()
    if all(name in results for name in SCHEDULE_PAIR):
        claims += schedule_table(results)
    write("quanos_vs_uniform", {"results": results}, "\n".join(lines + claims))


if __name__ == "__main__":
    main()
