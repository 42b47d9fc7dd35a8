"""The cost of deciding the bits: ANS (one FGSM gradient and two forward passes over the chosen
batches) vs a HAWQ-V2 / PyHessian Hessian-trace allocation (Hutchinson estimator, up to 100
Hessian-vector products, tolerance 1e-3) on the same model and data, with the Spearman
correlation of the two layer rankings. Goal: ANS >= 30x cheaper.

    python benchmarks/allocation_cost.py            # seed 0
"""

from __future__ import annotations

import argparse

from common import Timer, quiet, write


def case(name, dataset, model_name, epochs, batches, seed, **data_kw):
    import torch
    from scipy.stats import spearmanr

    from quanos_hw import TrainConfig, create_model, load_dataset, train
    from quanos_hw.sensitivity import adversarial_noise_sensitivity, hutchinson

    data = load_dataset(dataset, **data_kw)
    torch.manual_seed(seed)
    model = create_model(model_name, num_classes=data.info.num_classes, in_channels=data.info.input_shape[0],
                         quantize=False, mean=data.mean, std=data.std)
    train(model, data.train, TrainConfig(epochs=epochs, seed=seed, augment=data.info.augment), progress=False)
    adversarial_noise_sensitivity(model, data.train, data.info.ans_eps, max_batches=1)  # warm-up
    with Timer() as t_ans:
        ans = adversarial_noise_sensitivity(model, data.train, data.info.ans_eps, max_batches=batches)
    with Timer() as t_h:
        h = hutchinson(model, data.train, max_batches=batches, max_iter=100, tol=1e-3, seed=seed)
    names = list(ans)
    rho = spearmanr([ans[n] for n in names], [h.scores[n] for n in names]).statistic
    return {"case": name, "layers": len(names), "images": min(len(data.train), batches * 128),
            "ans_seconds": t_ans.seconds, "hessian_seconds": t_h.seconds, "ratio": t_h.seconds / t_ans.seconds,
            "hessian_vector_products": h.hessian_vector_products, "spearman": float(rho),
            "ans": ans, "hessian_trace_per_param": h.scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quiet()
    rows = [
        case("small_cnn / mnist5k", "mnist5k", "small_cnn", 3, 8, args.seed),
        case("resnet20 / synthetic 3x32x32", "synthetic", "resnet20", 2, 2, args.seed,
             n_train=1024, n_test=128, image_shape=(3, 32, 32)),
    ]
    lines = ["# Allocation cost: ANS vs Hessian trace (HAWQ-V2 / PyHessian)", "",
             "Same float-trained model and the same training images for both (ANS: FGSM at the dataset's eps; "
             "Hessian: Hutchinson, Rademacher vectors, stop at 1e-3 relative change of the total trace or 100 "
             f"Hessian-vector products); seed {args.seed}; wall time measured in one run. Goal: ANS >= 30x cheaper.",
             "", "| model / data | layers | images | ANS s | Hessian s (HVPs) | Hessian / ANS | Spearman(ANS, trace) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['layers']} | {r['images']} | {r['ans_seconds']:.2f} | "
                     f"{r['hessian_seconds']:.1f} ({r['hessian_vector_products']}) | {r['ratio']:.0f}x | "
                     f"{r['spearman']:+.2f} |")
    lines += ["", f"Goal met: {all(r['ratio'] >= 30 for r in rows)}."]
    if all(r["spearman"] < 0 for r in rows):
        lines += ["", "The rankings disagree (negative Spearman): the two metrics would spend bits very differently "
                  "(iso_energy.md shows what that does to accuracy and robustness)."]
    write("allocation_cost", {"seed": args.seed, "rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()
