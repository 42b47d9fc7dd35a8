"""report.md: the summary table, the comparison with uniform 8-bit, sanity checks, per-layer ANS."""

from __future__ import annotations

from ..attacks import ATTACKS
from ..robustness import accuracy_columns, reference_accuracy, reference_label, worst_case_accuracy
from ..worst_case import component_label


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
             "(paper, CIFAR at iso-accuracy: adversarial +3 to +4 points)"]
    if worst_case_accuracy(q["robustness"]) is not None and worst_case_accuracy(u8["robustness"]) is not None:
        worst = q["robustness"]["worst_case"]
        worst_delta = 100 * (worst_case_accuracy(q["robustness"]) - worst_case_accuracy(u8["robustness"]))
        lines.append(f"- worst-case robust accuracy: {worst_delta:+.1f} points (every attack at eps {worst['eps']}, "
                     f"first {worst['samples']} images)")
    lines.append(f"- compression (storage ratio, > 1 is smaller): {u8['size_bits'] / q['size_bits']:.2f}× vs uniform "
                 f"8-bit, {q['compression_vs_fp32']:.2f}× vs float32 (paper: > 5× compression)")
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
        kind = "iterative" if result["iterative"] else "single step"
        gradient_free = name in ATTACKS and not ATTACKS.get(name).uses_gradients
        described.append(f"{name} ({'gradient-free' if gradient_free else kind}"
                         + (f"; {params}" if params else "") + ")")
    probe = rob["large_eps"]
    return (f"Attacks (L∞, white-box on each model): {', '.join(described)}; black-box = "
            f"{reference_label(rob)} examples transferred from an independently trained float surrogate (seed "
            f"{report['surrogate']['seed']}, clean {_pct(report['surrogate']['clean'])}%). Large-eps probe: "
            f"{probe['attack']} at eps {probe['eps']:.3g} ({probe['steps']} steps, first {probe['samples']} images).")


def worst_case_section(report: dict) -> list[str]:
    """The worst case per model: each component's accuracy on the worst-case images, the white-box
    and overall worst case, and the masking flag (empty for a report without a worst case)."""
    models = report["models"]
    worst = {n: models[n]["robustness"].get("worst_case") for n in _order(models)}
    if any(w is None for w in worst.values()):
        return []
    fullest = max(worst.values(), key=lambda w: len(w["components"]))  # a quantized model: with the twin
    labels = list(dict.fromkeys(component_label(c) for w in (fullest, *worst.values()) for c in w["components"]))
    first = worst["quanos"]
    out = ["## Worst case (AutoAttack protocol)", "",
           f"On the first {first['samples']} test images at eps {first['eps']} (suite `{first['suite']}`): an image "
           "counts as robust only if it is classified correctly without attack and under every attack below "
           "(white-box with the straight-through gradient, white-box through the float twin (BPDA; quantized "
           "models only), gradient-free, and transferred from the surrogate). Accuracies in %; a gradient-free "
           "suite attack runs only on the images every white-box attack left robust (n/a), and the "
           "`beyond` columns give the points it and the transfer attacks take off the white-box worst case. "
           f"Masking warning: one of them takes off more than {100 * first['margin']:.0f} points.", "",
           "| model | clean | " + " | ".join(labels) + " | white-box worst | beyond (gradient-free, transfer) "
           "| **worst case** | masking warning |", "|---|" + "---|" * (len(labels) + 5)]
    for name, w in worst.items():
        by_label = {component_label(c): c for c in w["components"]}
        cells = ["–" if label not in by_label else _pct(by_label[label]["accuracy"]) for label in labels]
        beyond = ", ".join(f"{component_label(c)} {100 * c['beyond_white_box']:.1f}" for c in w["components"]
                           if c["beyond_white_box"] is not None) or "–"
        out.append(f"| {name} | {_pct(w['clean'])} | " + " | ".join(cells) + f" | {_pct(w['white_box'])} | {beyond} "
                   f"| **{_pct(w['accuracy'])}** | {'**YES**' if w['masking_warning'] else 'no'} |")
    return out + [""]


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
        *worst_case_section(report),
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
