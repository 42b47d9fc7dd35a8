"""report.md: the summary table, the comparison with uniform 8-bit, sanity checks, per-layer ANS."""

from __future__ import annotations

from ..robustness import accuracy_columns, reference_accuracy, reference_label


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _order(models: dict) -> list[str]:
    """Float first, then uniform widths from the widest, then the hybrid models."""
    rank = {"float": 0, "uniform": 1, "hybrid": 2}
    return sorted(models, key=lambda n: (rank[models[n]["kind"]], -(models[n]["bit_width"] or 0)))


def summary_table(report: dict) -> list[str]:
    archs, models = report["config"]["mac_architectures"], report["models"]
    timed = "hardware" in report  # an accelerator description: latency beside energy
    columns = list(accuracy_columns(models["quanos"]["robustness"]))
    head = (["model", "mean w bits"] + [f"{c} %" for c in columns] + [f"E {a} µJ (×u16/×u8)" for a in archs]
            + ([f"latency {a} µs" for a in archs] if timed else []) + ["size KiB", "× vs fp32"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in _order(models):
        m = models[name]
        iso = m["kind"] == "uniform" and m["bit_width"] == report["iso_size_bits"]
        accuracy = accuracy_columns(m["robustness"])
        row = [name + (" (iso-size)" if iso else ""),
               "32 (float)" if m["mean_weight_bits"] is None else f"{m['mean_weight_bits']:.2f}"]
        row += [_pct(accuracy[c]) for c in columns]
        for arch in archs:
            if m["energy"] is None:
                row.append("n/a")
            else:
                e = m["energy"][arch]
                row.append(f"{e['energy_pj'] / 1e6:.3g} "
                           f"({e['saving_vs_uniform16']:.2f}×/{e['saving_vs_uniform8']:.2f}×)")
        if timed:
            row += ["n/a" if m["energy"] is None else f"{m['energy'][a]['latency_s'] * 1e6:.4g}" for a in archs]
        row += [f"{m['size_bits'] / 8192:.1f}", f"{m['compression_vs_fp32']:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def comparison_vs_uniform8(report: dict) -> list[str]:
    q, u8 = report["models"]["quanos"], report["models"]["uniform8"]
    label = reference_label(q["robustness"])
    adv_delta = 100 * (reference_accuracy(q["robustness"]) - reference_accuracy(u8["robustness"]))
    clean_delta = 100 * (q["robustness"]["clean"] - u8["robustness"]["clean"])
    lines = [f"- clean accuracy: {clean_delta:+.1f} points; {label} accuracy: {adv_delta:+.1f} points "
             "(paper, CIFAR at iso-accuracy: adversarial +3 to +4 points)",
             f"- compression (storage ratio, > 1 is smaller): {u8['size_bits'] / q['size_bits']:.2f}× vs uniform "
             f"8-bit, {q['compression_vs_fp32']:.2f}× vs float32 (paper: > 5× compression)"]
    archs = report["config"]["mac_architectures"]
    savings = ", ".join(f"{a} {q['energy'][a]['saving_vs_uniform8']:.2f}×" for a in archs)
    lines.append(f"- energy saving vs uniform 8-bit: {savings} (paper: > 2×)")
    return lines


def _attacks_line(report: dict) -> str:
    rob = report["models"]["quanos"]["robustness"]
    described = []
    for name, result in rob["attacks"].items():
        params = ", ".join(f"{k} {v}" for k, v in result["params"].items()
                           if k not in ("name", "eps") and v is not None)
        described.append(f"{name} ({'iterative' if result['iterative'] else 'single step'}"
                         + (f"; {params}" if params else "") + ")")
    probe = rob["large_eps"]
    return (f"Attacks (L∞, white-box on each model): {', '.join(described)}; black-box = "
            f"{reference_label(rob)} examples transferred from an independently trained float surrogate (seed "
            f"{report['surrogate']['seed']}, clean {_pct(report['surrogate']['clean'])}%). Large-eps probe: "
            f"{probe['attack']} at eps {probe['eps']:.3g} ({probe['steps']} steps, first {probe['samples']} images).")


def _checks_table(report: dict) -> list[str]:
    models = report["models"]
    names = list(dict.fromkeys(c["name"] for m in models.values() for c in m["robustness"]["checks"]))
    out = ["| model | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for name in _order(models):
        checks = {c["name"]: c for c in models[name]["robustness"]["checks"]}
        cells = ["n/a" if n not in checks else "pass" if checks[n]["passed"] else f"**FAIL**: {checks[n]['detail']}"
                 for n in names]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def _hardware_line(report: dict) -> str:
    """What the energies were estimated on: the technology and dataflow, or an accelerator description."""
    cfg, hw = report["config"], report.get("hardware")
    savings = "savings are E(uniform 16 or 8 bit) / E(model) on the same architecture."
    if hw is None:
        return f"Energy: {cfg['technology']} technology, {cfg['dataflow']} dataflow; {savings}"
    return (f"Energy and latency: accelerator {hw['name']} ({hw['array']['rows']}×{hw['array']['cols']} PEs at "
            f"{hw['clock_mhz']:g} MHz, batch {hw['batch']}, {hw['technology']['table']} at "
            f"{hw['technology']['node_nm']:g} nm; report.json holds the description) with each MAC architecture in "
            f"its PEs; latency per batch; {savings}")


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
        f"Accuracies on the {ds['test_size']} test images. {_attacks_line(report)} {_hardware_line(report)}", "",
        "## Summary", "", *summary_table(report), "",
        "## QUANOS vs uniform 8-bit", "", *comparison_vs_uniform8(report), "",
        "## Sanity checks", "", *_checks_table(report),
    ]
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
