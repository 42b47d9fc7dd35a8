"""One QAT epoch of VGG-19 on CIFAR-shaped generated data, on cuda and on cpu: is the GPU path
working, and how much faster is it? Images are uint8 noise of shape 3x32x32 with random labels
(the timing does not depend on the content); the model is VGG-19 at uniform 8-bit (weights and
activations), calibrated, trained one epoch with the package's own ``train`` (batch 128).

    python benchmarks/gpu_check.py                      # 50,000 images, as CIFAR-10's training split
    python benchmarks/gpu_check.py --images 512         # a smoke run

Without a CUDA device it says so and times cpu only (``--skip-cpu`` then times nothing and exits
cleanly).
"""

from __future__ import annotations

import argparse
import time

from common import quiet, write


def one_epoch(device: str, images: int, batch: int, seed: int) -> dict:
    import torch

    from quanos_hw import create_model
    from quanos_hw.bitconfig import apply_bit_config
    from quanos_hw.quantization import set_quantization
    from quanos_hw.splits import TensorData
    from quanos_hw.training import TrainConfig, train

    g = torch.Generator().manual_seed(seed)
    data = TensorData(torch.randint(0, 256, (images, 3, 32, 32), generator=g, dtype=torch.uint8),
                      torch.randint(0, 10, (images,), generator=g))
    torch.manual_seed(seed)
    model = create_model("vgg19", num_classes=10, in_channels=3, quantize=False).to(device)
    apply_bit_config(model, 8)
    set_quantization(model, True)
    config = TrainConfig(epochs=1, batch_size=batch, seed=seed, calibration_batches=2)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    history = train(model, data, config, progress=False)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"device": device, "seconds": seconds, "images_per_s": images / seconds,
            "final_loss": history[-1].get("loss")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=50_000, help="training images (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-cpu", action="store_true", help="time cuda only (the cpu epoch is slow)")
    args = parser.parse_args()
    if args.images < 1 or args.batch < 1:
        parser.error("--images and --batch must be positive")
    quiet()
    import torch

    has_cuda = torch.cuda.is_available()
    if not has_cuda:
        print("gpu_check: no CUDA GPU is present on this machine; timing cpu only")
        if args.skip_cpu:
            return
    devices = (["cuda"] if has_cuda else []) + ([] if args.skip_cpu else ["cpu"])
    rows = [one_epoch(d, args.images, args.batch, args.seed) for d in devices]
    by = {r["device"]: r for r in rows}
    speedup = by["cpu"]["seconds"] / by["cuda"]["seconds"] if len(by) == 2 else None
    gpu = torch.cuda.get_device_name(0) if has_cuda else "none"
    lines = ["# One QAT epoch of VGG-19 (uniform 8-bit) on CIFAR-shaped data: cuda vs cpu", "",
             f"{args.images:,} generated 3x32x32 images, batch {args.batch}, seed {args.seed}; GPU: {gpu}.", "",
             "| device | seconds | images/s |", "|---|---|---|"]
    lines += [f"| {r['device']} | {r['seconds']:.1f} | {r['images_per_s']:.0f} |" for r in rows]
    lines += ["", f"cuda is {speedup:.1f}x faster than cpu." if speedup else
              ("No CUDA GPU on this machine: cpu only." if not has_cuda else "cpu not timed (--skip-cpu).")]
    write("gpu_check", {"images": args.images, "batch": args.batch, "seed": args.seed, "gpu": gpu, "rows": rows,
                        "cuda_speedup": speedup}, "\n".join(lines))


if __name__ == "__main__":
    main()
