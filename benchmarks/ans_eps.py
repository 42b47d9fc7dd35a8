"""The one knob: the FGSM eps used to measure ANS. For each eps, the bits QUANOS chooses, their
energy, and the clean and adversarial accuracy of the trained hybrid (mnist5k, small_cnn, the
default schedule, seed 0), beside uniform 16-bit and 8-bit trained the same way.

    python benchmarks/ans_eps.py            # eps 0.05 0.1 0.2, seed 0
"""

from __future__ import annotations

import argparse
import dataclasses

from common import RESULTS, quiet, write

ARCHS = ("data_gated", "subword_parallel", "bitfusion", "bit_serial")


def run_eps(eps: float, seed: int) -> dict:
    from quanos_hw.pipeline import RunConfig, run

    out = RESULTS / "runs" / f"ans_eps-{eps:g}-seed{seed}"
    config = dataclasses.replace(RunConfig(), ans_eps=eps, seed=seed, out_dir=str(out), float_baseline=False,
                                 uniform_bits=(16, 8), iso_size=False)
    return run(config, resume=(out / "config.json").is_file(), progress=False, log=print).report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quiet()
    reports = {eps: run_eps(eps, args.seed) for eps in args.eps}
    from quanos_hw.robustness import accuracy_columns

    first = reports[args.eps[0]]
    columns = list(accuracy_columns(first["models"]["quanos"]["robustness"]))
    head = ["model", "ANS eps", "ANS per layer", "bits per layer", "mean w bits"] + [f"{c} %" for c in columns] + [
        f"×u16 / ×u8 {a}" for a in ARCHS]
    lines = ["# The eps used for ANS", "",
             f"mnist5k, small_cnn, default schedule, seed {args.seed}; `quanos run --set ans_eps=EPS "
             "--set float_baseline=false --set uniform_bits=[16,8] --set iso_size=false` per eps. The uniform "
             "baselines do not depend on eps (same seed, same training): shown once.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = []

    def line(label, eps, m, ans=None):
        accuracy = accuracy_columns(m["robustness"])
        bits = " ".join(str(v["weight_bit_width"]) for v in m["bits"].values())
        cells = [label, eps, ans or "", bits, f"{m['mean_weight_bits']:.2f}"] + [
            f"{100 * accuracy[c]:.1f}" for c in columns]
        cells += [f"{m['energy'][a]['saving_vs_uniform16']:.2f} / {m['energy'][a]['saving_vs_uniform8']:.2f}"
                  for a in ARCHS]
        lines.append("| " + " | ".join(cells) + " |")

    for name in ("uniform16", "uniform8"):
        line(name, "", first["models"][name])
    for eps, rep in reports.items():
        ans = " ".join(f"{layer['ans']:.2f}" for layer in rep["layers"])
        line("quanos", f"{eps:g}", rep["models"]["quanos"], ans)
        q = rep["models"]["quanos"]
        rows.append({"ans_eps": eps, "ans": {layer["name"]: layer["ans"] for layer in rep["layers"]},
                     "bits": rep["bits"], "accuracy": accuracy_columns(q["robustness"]),
                     "energy": {a: {k: q["energy"][a][k] for k in ("energy_pj", "saving_vs_uniform16",
                                                                    "saving_vs_uniform8")} for a in ARCHS},
                     "checks_passed": q["robustness"]["all_checks_passed"]})
    ordered = [reports[e] for e in sorted(reports)]
    rises = all(a["layers"][i]["ans"] <= b["layers"][i]["ans"] for a, b in zip(ordered, ordered[1:])
                for i in range(len(a["layers"])))
    lines += ["", ("Every layer's ANS rises with eps, so the rule removes more bits as eps grows. " if rises else
                   "ANS does not rise with eps in every layer here. ")
              + "The eps is the strongest lever on the result: report it beside every result."]
    write("ans_eps", {"seed": args.seed, "rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
