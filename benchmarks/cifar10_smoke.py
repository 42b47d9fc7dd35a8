"""The CIFAR-10 path end to end on real pixels: the 20 CIFAR-10 test images that ship inside
foolbox's wheel are written in the CIFAR-10 python-archive format (the same reader as the real
dataset) and ``quanos run`` runs on them (resnet20, 1 + 1 epochs, train = test = those 20 images).

This checks the path (loader, 3x32x32 models, crop/flip augmentation, attacks at 8/255,
energy, report); with 20 images its accuracies mean nothing. Get the wheel (no install needed):

    pip download foolbox==3.3.4 --no-deps -d .whl
    python benchmarks/cifar10_smoke.py --wheel .whl/foolbox-3.3.4-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import io
import pickle
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from common import quiet, write


def read_images(wheel: Path) -> tuple[np.ndarray, list[int]]:
    from PIL import Image

    images, labels = [], []
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if re.fullmatch(r"foolbox/data/cifar10_\d+_\d+\.png", n))
        for name in names:
            img = np.asarray(Image.open(io.BytesIO(zf.read(name))).convert("RGB"), dtype=np.uint8)
            images.append(img.transpose(2, 0, 1).reshape(-1))  # CIFAR rows: 1024 R, 1024 G, 1024 B
            labels.append(int(name.rsplit("_", 1)[1][:-4]))
    if len(images) != 20:
        raise SystemExit(f"expected 20 CIFAR-10 images in {wheel}, found {len(images)}")
    return np.stack(images), labels


def write_archive(root: Path, data: np.ndarray, labels: list[int]) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(5):
        batch = {b"data": data[i * 4:(i + 1) * 4], b"labels": labels[i * 4:(i + 1) * 4]}
        (folder / f"data_batch_{i + 1}").write_bytes(pickle.dumps(batch))
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": data, b"labels": labels}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", required=True, type=Path, help="foolbox-3.3.4-py3-none-any.whl")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quiet()
    import dataclasses

    from quanos_hw.pipeline import RunConfig, run

    data, labels = read_images(args.wheel)
    with tempfile.TemporaryDirectory() as tmp:
        write_archive(Path(tmp) / "cifar", data, labels)
        out = Path(tmp) / "run"
        config = dataclasses.replace(RunConfig(), dataset="cifar10", data_dir=str(Path(tmp) / "cifar"),
                                     model="resnet20", seed=args.seed, warmup_epochs=1, qat_epochs=1, batch_size=10,
                                     calibration_batches=2, ans_batches=1, ans_batch_size=20, eval_batch_size=20,
                                     large_eps_samples=20, out_dir=str(out))
        report = run(config, progress=False, log=print).report
        files = sorted(p.name for p in out.iterdir() if p.is_file())
    from quanos_hw.robustness import reference_accuracy

    q = report["models"]["quanos"]
    attacks = "; ".join(f"{name} eps {', '.join(a['white_box'])}" for name, a in q["robustness"]["attacks"].items())
    lines = ["# CIFAR-10 smoke run on real pixels (20 images from foolbox 3.3.4)", "",
             f"`{report['dataset']['name']}` through the python-archive reader, resnet20 "
             f"({sum(layer['macs'] for layer in report['layers']):,} MACs), 1 float + 1 QAT epoch, seed {args.seed}, "
             f"train = test = the 20 images. It proves the path, not accuracy.", "",
             "- dataset: {name}, {train_size} train / {test_size} test images, input {input_shape}, {num_classes} "
             "classes".format(**report["dataset"]),
             f"- ANS eps {report['quanos']['ans_eps']:.4f} (8/255); attacks: {attacks}",
             f"- QUANOS bits per layer: {' '.join(str(v['weight_bit_width']) for v in report['bits'].values())}",
             f"- models evaluated: {', '.join(report['models'])}",
             "- QUANOS energy saving vs uniform 16-bit (data_gated): "
             f"{q['energy']['data_gated']['saving_vs_uniform16']:.2f}×",
             f"- files written: {', '.join(files)}", "",
             "The full-scale profile (CIFAR-10, VGG-19, ~200 epochs, ANS after 25) is the `paper` preset: "
             "`quanos run --preset paper --set data_dir=DIR --device cuda --out results/paper` "
             "(needs the CIFAR-10 archive and a GPU; not run here)."]
    write("cifar10_smoke", {"seed": args.seed, "report": {k: report[k] for k in ("dataset", "bits", "layers")},
                            "models": {n: {"clean": m["robustness"]["clean"],
                                           "attack": reference_accuracy(m["robustness"])}
                                       for n, m in report["models"].items()}, "files": files}, "\n".join(lines))


if __name__ == "__main__":
    main()
