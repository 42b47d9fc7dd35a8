"""report.md: the summary table, the comparison with uniform 8-bit, sanity checks, per-layer ANS."""

from __future__ import annotations


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _order(models: dict) -> list[str]:
    uniform = sorted((n for n, m in models.items() if m["kind"] == "uniform"), key=lambda n: -int(n[7:]))
    return [n for n in ("float32",) if n in models] + uniform + ["quanos"]


def summary_table(report: dict) -> list[str]:
    cfg, models = report["config"], report["models"]
    eps = sorted(models["quanos"]["robustness"]["fgsm"], key=float)
    archs = cfg["mac_architectures"]
    head = (["model", "mean w bits", "clean %"] + [f"FGSM {e} %" for e in eps] + [f"PGD {cfg['pgd_eps']:.4g} %",
            "black-box PGD %"] + [f"E {a} µJ (×u16/×u8)" for a in archs] + ["size KiB", "× vs fp32"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in _order(models):
        m, rob = models[name], models[name]["robustness"]
        iso = report["iso_size_bits"] and name == f"uniform{report['iso_size_bits']}"
        label = name + (" (iso-size)" if iso else "")
        row = [label, "32 (float)" if m["mean_weight_bits"] is None else f"{m['mean_weight_bits']:.2f}",
               _pct(rob["clean"])] + [_pct(rob["fgsm"][e]) for e in eps] + [_pct(rob["pgd"]), _pct(rob["blackbox_pgd"])]
        for arch in archs:
            if m["energy"] is None:
                row.append("n/a")
            else:
                e = m["energy"][arch]
                row.append(f"{e['energy_pj'] / 1e6:.3g} "
                           f"({e['saving_vs_uniform16']:.2f}×/{e['saving_vs_uniform8']:.2f}×)")
        row += [f"{m['size_bits'] / 8192:.1f}", f"{m['compression_vs_fp32']:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def comparison_vs_uniform8(report: dict) -> list[str]:
    q, u8 = report["models"]["quanos"], report["models"]["uniform8"]
    pgd_delta = 100 * (q["robustness"]["pgd"] - u8["robustness"]["pgd"])
    clean_delta = 100 * (q["robustness"]["clean"] - u8["robustness"]["clean"])
    lines = [f"- clean accuracy: {clean_delta:+.1f} points; PGD accuracy: {pgd_delta:+.1f} points "
             "(paper, CIFAR at iso-accuracy: adversarial +3 to +4 points)",
             f"- compression (storage ratio, > 1 is smaller): {u8['size_bits'] / q['size_bits']:.2f}× vs uniform "
             f"8-bit, {q['compression_vs_fp32']:.2f}× vs float32 (paper: > 5× compression)"]
    archs = report["config"]["mac_architectures"]
    savings = ", ".join(f"{a} {q['energy'][a]['saving_vs_uniform8']:.2f}×" for a in archs)
    lines.append(f"- energy saving vs uniform 8-bit: {savings} (paper: > 2×)")
    return lines


def render_markdown(report: dict) -> str:
    cfg, ds = report["config"], report["dataset"]
    q = report["quanos"]
    out = [
        f"# QUANOS run: {cfg['model']} on {ds['name']} (seed {cfg['seed']})", "",
        f"Reproduce: `quanos run --config {cfg['out_dir']}/config.json --out NEW_DIR` "
        f"(config hash `{report['config_hash']}`; quanos-hw {report['tool']['version']}, "
        f"git {report['tool']['git_revision'] or 'n/a'}).", "",
        f"Schedule: {cfg['warmup_epochs']} float warm-up epoch(s), then {cfg['qat_epochs']} QAT epoch(s) for every "
        "model "
        "from the same warm weights; " + (f"ANS by FGSM at eps {q['ans_eps']:.4g} ({q['activation']} activations)"
                                          if q["metric"] == "ans" else f"sensitivity by {q['metric']} (column ANS)")
        + ", "
        f"k = clamp({q['k_init']} - round({q['k_init']}·ANS), {q['k_min']}, {q['k_init']}). "
        f"Accuracies on the {ds['test_size']} test images; black-box = PGD examples transferred from an "
        f"independently trained float surrogate (seed {report['surrogate']['seed']}, clean "
        f"{_pct(report['surrogate']['clean'])}%). Energy: {cfg['technology']} technology, {cfg['dataflow']} "
        f"dataflow; savings are E(uniform 16 or 8 bit) / E(model) on the same architecture.", "",
        "## Summary", "", *summary_table(report), "",
        "## QUANOS vs uniform 8-bit", "", *comparison_vs_uniform8(report), "",
        "## Sanity checks", "",
        "| model | " + " | ".join(c["name"] for c in report["models"]["quanos"]["robustness"]["checks"]) + " |",
        "|---|" + "---|" * len(report["models"]["quanos"]["robustness"]["checks"]),
    ]
    for name in _order(report["models"]):
        checks = report["models"][name]["robustness"]["checks"]
        out.append(f"| {name} | " + " | ".join("pass" if c["passed"] else f"**FAIL**: {c['detail']}" for c in checks)
                   + " |")
    out += ["", "All checks passed." if report["sanity"]["all_passed"] else
            "Some checks FAILED: treat the affected robustness numbers as unreliable (possible gradient masking).",
            "", "## Per-layer ANS and bits", "", "| layer | kind | MACs | weights | ANS | bits (w/a) |",
            "|---|---|---|---|---|---|"]
    for layer in report["layers"]:
        out.append(f"| {layer['name']} | {layer['kind']} | {layer['macs']:,} | {layer['weights']:,} | "
                   f"{layer['ans']:.3f} | {layer['weight_bit_width']}/{layer['act_bit_width']} |")
    out += ["", "![ANS and bits](ans_bits.png)", "", "![Pareto](pareto.png)", "",
            "![Energy breakdown](energy_breakdown.png)", ""]
    return "\n".join(out)
