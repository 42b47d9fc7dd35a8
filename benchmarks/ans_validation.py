"""Does ANS point at the layers whose precision matters for robustness? (The seed's validation
experiment.) Layers are ranked by ANS on a float-trained network; then, for each layer alone:

* view 1 - lower its precision (weights and activations to 4 and to 2 bits, every other layer at
  16, post-training on the calibrated network) and measure white-box FGSM and PGD accuracy;
* view 2 - attenuate its adversarial perturbation: during the forward pass of fixed adversarial
  examples, replace the layer's output a_l(x_adv) by a_l(x) + g * (a_l(x_adv) - a_l(x)) (g = 0.5,
  and g = 0, which in a purely sequential network restores the clean output of every later layer)
  and measure the accuracy.

The table gives every layer's ANS and the change in adversarial accuracy, the Spearman correlation
(scipy) between them per view, and a bar plot.

    python benchmarks/ans_validation.py            # mnist5k: small_cnn and resnet20, seed 0
"""

from __future__ import annotations

import argparse

from common import RESULTS, quiet, write


def _adv_accuracy(model, data, eps, alpha, steps, batch=250):
    from quanos_hw.attacks import attack_dataset, fgsm, pgd
    from quanos_hw.training import evaluate

    f = evaluate(model, attack_dataset(fgsm, model, data, batch_size=batch, eps=eps))
    p = evaluate(model, attack_dataset(pgd, model, data, batch_size=batch, eps=eps, alpha=alpha, steps=steps,
                                       random_start=False))
    return f, p


def _attenuated_accuracy(model, layer, clean, adv, gamma, batch=250):
    """Accuracy on fixed adversarial images with layer's perturbation scaled by gamma."""
    import torch

    correct = 0
    stash = {}

    def capture(module, args, out):
        stash["clean"] = out.detach()

    def replace(module, args, out):
        return stash["clean"] + gamma * (out - stash["clean"])

    with torch.no_grad():
        for start in range(0, len(clean.labels), batch):
            x = clean.images[start:start + batch]
            x_adv = adv.images[start:start + batch]
            h = layer.register_forward_hook(capture)
            model(x)
            h.remove()
            h = layer.register_forward_hook(replace)
            correct += int((model(x_adv).argmax(1) == clean.labels[start:start + batch]).sum())
            h.remove()
    return correct / len(clean.labels)


def study(model_name: str, epochs: int, samples: int, eps: float, seed: int) -> dict:
    import torch
    from scipy.stats import spearmanr

    from quanos_hw import TrainConfig, create_model, load_dataset, train
    from quanos_hw.attacks import attack_dataset, fgsm, pgd
    from quanos_hw.bitconfig import apply_bit_config, uniform_bit_config
    from quanos_hw.quantization import calibrate_activations, quant_layers, set_quantization
    from quanos_hw.sensitivity import adversarial_noise_sensitivity
    from quanos_hw.training import evaluate

    data = load_dataset("mnist5k")
    test = data.test.head(samples)
    torch.manual_seed(seed)
    model = create_model(model_name, in_channels=1, quantize=False, mean=data.mean, std=data.std)
    train(model, data.train, TrainConfig(epochs=epochs, seed=seed, augment="shift"), progress=False)
    ans = adversarial_noise_sensitivity(model, data.train, eps, max_batches=8)
    set_quantization(model, True)
    calibrate_activations(model, (x for x, _ in data.train.batches(64, 8)))
    base_cfg = uniform_bit_config(model, 16)
    apply_bit_config(model, base_cfg)
    alpha, steps = eps / 4, 10
    clean0 = evaluate(model, test)
    fgsm0, pgd0 = _adv_accuracy(model, test, eps, alpha, steps)
    adv_f = attack_dataset(fgsm, model, test, batch_size=250, eps=eps)
    adv_p = attack_dataset(pgd, model, test, batch_size=250, eps=eps, alpha=alpha, steps=steps, random_start=False)
    layers = quant_layers(model)
    rows = []
    for name, layer in layers.items():
        row = {"layer": name, "ans": ans[name]}
        for low in (4, 2):
            cfg = {**base_cfg, name: {"weight_bit_width": low, "act_bit_width": low}}
            apply_bit_config(model, cfg)
            f, p = _adv_accuracy(model, test, eps, alpha, steps)
            row[f"bits{low}"] = {"clean": evaluate(model, test) - clean0, "fgsm": f - fgsm0, "pgd": p - pgd0}
        apply_bit_config(model, base_cfg)
        for gamma in (0.5, 0.0):
            row[f"gamma{gamma:g}"] = {"fgsm": _attenuated_accuracy(model, layer, test, adv_f, gamma) - fgsm0,
                                      "pgd": _attenuated_accuracy(model, layer, test, adv_p, gamma) - pgd0}
        rows.append(row)
        print(model_name, row, flush=True)
    values = [r["ans"] for r in rows]
    views = {"bits4": "pgd", "bits2": "pgd", "gamma0.5": "pgd", "gamma0": "pgd"}
    corr = {}
    for view in views:
        for metric in ("fgsm", "pgd"):
            deltas = [r[view][metric] for r in rows]
            if max(deltas) - min(deltas) < 1e-12:  # constant: no ranking to correlate
                corr[f"{view}/{metric}"] = {"rho": None, "p": None}
                continue
            rho = spearmanr(values, deltas)
            corr[f"{view}/{metric}"] = {"rho": float(rho.statistic), "p": float(rho.pvalue)}
    return {"model": model_name, "epochs": epochs, "samples": samples, "eps": eps, "clean": clean0,
            "fgsm": fgsm0, "pgd": pgd0, "rows": rows, "spearman": corr}


def plot(results: list[dict]) -> None:
    import io

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from quanos_hw.io import atomic_write_bytes

    fig = Figure(figsize=(13, 3.6 * len(results)))
    FigureCanvasAgg(fig)
    for i, res in enumerate(results):
        names = [r["layer"] for r in res["rows"]]
        x = np.arange(len(names))
        ax = fig.add_subplot(len(results), 2, 2 * i + 1)
        ax.bar(x, [r["ans"] for r in res["rows"]], color="tab:blue")
        ax.set_title(f"{res['model']}: ANS per layer (FGSM eps {res['eps']:g})")
        ax.set_xticks(x, names, rotation=70, ha="right", fontsize=6)
        ax = fig.add_subplot(len(results), 2, 2 * i + 2)
        width = 0.27
        for k, (view, label) in enumerate((("bits4", "layer at 4 bits"), ("bits2", "layer at 2 bits"),
                                           ("gamma0.5", "perturbation halved"))):
            ax.bar(x + (k - 1) * width, [100 * r[view]["pgd"] for r in res["rows"]], width, label=label)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(f"{res['model']}: change in PGD accuracy (points)")
        ax.set_xticks(x, names, rotation=70, ha="right", fontsize=6)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(RESULTS / "ans_validation.png", buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--models", nargs="+", default=["small_cnn", "resnet20"])
    args = parser.parse_args()
    quiet()
    settings = {"small_cnn": (3, 1000), "resnet20": (3, 300)}
    results = [study(m, *settings[m], args.eps, args.seed) for m in args.models]
    plot(results)
    lines = ["# ANS validation: per-layer precision and perturbation vs adversarial accuracy", "",
             f"mnist5k, float training then calibrated 16-bit quantization, seed {args.seed}; ANS at FGSM eps "
             f"{args.eps:g}; white-box FGSM and PGD (eps {args.eps:g}, 10 steps, no random start) on the first N "
             "test images. Deltas are in accuracy points against the unmodified 16-bit network; view 2 uses "
             "adversarial examples crafted on the unmodified network.", ""]
    for res in results:
        lines += [f"## {res['model']} (N = {res['samples']}; 16-bit clean {100 * res['clean']:.1f}%, FGSM "
                  f"{100 * res['fgsm']:.1f}%, PGD {100 * res['pgd']:.1f}%)", "",
                  "| layer | ANS | 4-bit: Δ clean | 4-bit: Δ FGSM | 4-bit: Δ PGD | 2-bit: Δ clean | 2-bit: Δ FGSM | "
                  "2-bit: Δ PGD | halved: Δ PGD | removed: Δ PGD |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(res["rows"], key=lambda r: -r["ans"]):
            lines.append(f"| {r['layer']} | {r['ans']:.3f} | " + " | ".join(
                f"{100 * r[v][m]:+.1f}" for v, m in (("bits4", "clean"), ("bits4", "fgsm"), ("bits4", "pgd"),
                                                     ("bits2", "clean"), ("bits2", "fgsm"), ("bits2", "pgd"),
                                                     ("gamma0.5", "pgd"), ("gamma0", "pgd"))) + " |")
        lines += ["", "Spearman correlation between ANS and the change in adversarial accuracy:", "",
                  "| view | vs Δ FGSM | vs Δ PGD |", "|---|---|---|"]
        for view, label in (("bits4", "layer at 4 bits"), ("bits2", "layer at 2 bits"),
                            ("gamma0.5", "perturbation halved"), ("gamma0", "perturbation removed")):
            cells = [("n/a (same change for every layer)" if c["rho"] is None else f"{c['rho']:+.2f} (p {c['p']:.2g})")
                     for c in (res["spearman"][f"{view}/fgsm"], res["spearman"][f"{view}/pgd"])]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
        lines.append("")
    lines += ["![ANS and accuracy changes per layer](ans_validation.png)"]
    write("ans_validation", {"seed": args.seed, "results": results}, "\n".join(lines))


if __name__ == "__main__":
    main()
