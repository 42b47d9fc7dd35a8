"""The user's own data: ``folder:PATH`` (an ImageFolder tree of PNGs written here) and ``npz:FILE``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from quanos_hw.cli import main
from quanos_hw.data import dataset_info, load_dataset
from quanos_hw.errors import ConfigError, DatasetError
from quanos_hw.pipeline.config import RunConfig, parse_set

CLASSES = ("cat", "dog", "eel")
CIFAR_EPS = (2 / 255, 4 / 255, 8 / 255, 8 / 255, 2 / 255, 8 / 255)  # fgsm eps, pgd eps and alpha, ans eps
MNIST_EPS = (0.05, 0.1, 0.2, 0.1, 0.025, 0.1)


def _write_images(root, classes=CLASSES, n=10, size=(16, 16), mode="RGB", first=0):
    """``n`` PNGs per class folder; image i of class c is one gray level 20 c + first + i, so a
    pixel tells its class and its file."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            pixels = np.full(shape, 20 * c + first + i, np.uint8)
            Image.fromarray(pixels).convert(mode).save(root / name / f"{first + i:02d}.png")
    return root


def _eps(info):
    return (*info.fgsm_eps, info.pgd_eps, info.pgd_alpha, info.ans_eps)


def test_folder_loads_shapes_classes_and_a_stratified_split(tmp_path):
    root = _write_images(tmp_path / "imgs")
    ds = load_dataset(f"folder:{root}")
    assert ds.info.name == f"folder:{root}"
    assert ds.info.input_shape == (3, 16, 16) and ds.info.num_classes == 3 and ds.info.augment == "none"
    assert _eps(ds.info) == pytest.approx(CIFAR_EPS)  # 3 channels: the CIFAR budgets
    assert (len(ds.train), len(ds.test)) == (24, 6)
    assert torch.bincount(ds.test.labels).tolist() == [2, 2, 2]  # stratified 80/20
    assert ds.train.images.dtype == torch.uint8 and ds.train.images.shape == (24, 3, 16, 16)
    for split in (ds.train, ds.test):  # the label is the sorted class folder (cat 0, dog 1, eel 2)
        assert torch.equal(split.images[:, 0, 0, 0].long() // 20, split.labels)
    (root / "cat" / ".thumbs").mkdir()
    (root / "cat" / ".thumbs" / "00.png").write_bytes(b"not an image")  # hidden: skipped
    (root / "dog" / "._01.png").write_bytes(b"not an image")
    (root / ".cache").mkdir()  # hidden: not a class
    (root / "notes.txt").write_text("not an image either")
    again = load_dataset(f"folder:{root}")
    assert again.info.num_classes == 3 and (len(again.train), len(again.test)) == (24, 6)
    x, _ = next(ds.train.batches(8))
    assert x.dtype == torch.float32 and float(x.max()) <= 49 / 255 + 1e-6
    # every sample once, in one of the splits
    values = sorted(torch.cat([ds.train.images, ds.test.images])[:, 0, 0, 0].tolist())
    assert values == sorted(20 * c + i for c in range(3) for i in range(10))


def test_folder_statistics_come_from_the_train_split_only(tmp_path):
    ds = load_dataset(f"folder:{_write_images(tmp_path / 'imgs')}")
    train_mean = ds.train.images.float().mean().item() / 255
    all_mean = sum(20 * c + i for c in range(3) for i in range(10)) / 30 / 255  # 24.5 / 255
    assert ds.mean == pytest.approx((train_mean,) * 3, abs=1e-4)
    assert abs(ds.mean[0] - all_mean) > 5e-4  # 0.0953 against 0.0961 for split seed 0
    train_std = (ds.train.images.float() / 255).std().item()
    assert ds.std == pytest.approx((train_std,) * 3, abs=1e-4)
    # a split of one's own with bright test images: the statistics ignore them
    _write_images(tmp_path / "own" / "train", n=10)
    _write_images(tmp_path / "own" / "test", n=2, first=150)
    own = load_dataset(f"folder:{tmp_path / 'own'}")
    assert own.mean == pytest.approx((all_mean,) * 3, abs=1e-4)  # the train folder holds the same 30 images


def test_folder_split_is_deterministic_per_seed(tmp_path):
    root = _write_images(tmp_path / "imgs")
    a, b = load_dataset(f"folder:{root}", split_seed=3), load_dataset(f"folder:{root}", split_seed=3)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    c = load_dataset(f"folder:{root}", split_seed=4)
    assert not torch.equal(a.test.images, c.test.images)


def test_grayscale_folder_has_one_channel_and_mnist_budgets(tmp_path):
    root = _write_images(tmp_path / "gray", mode="L", size=(12, 10))
    info = dataset_info(f"folder:{root}")
    assert info.input_shape == (1, 10, 12)  # (C, H, W) of 12 wide, 10 high images
    assert _eps(info) == pytest.approx(MNIST_EPS)
    ds = load_dataset(f"folder:{root}")
    assert ds.train.images.shape[1:] == (1, 10, 12)
    _write_images(root, classes=CLASSES[:1], n=1, size=(12, 10), mode="RGB", first=50)  # one RGB image
    assert dataset_info(f"folder:{root}").input_shape == (3, 10, 12)  # not all gray: RGB for all
    mixed = load_dataset(f"folder:{root}")
    assert mixed.train.images.shape[1:] == (3, 10, 12)
    gray = torch.cat([mixed.train.images, mixed.test.images])
    assert torch.equal(gray[:, 0], gray[:, 2])  # L converted to RGB: three equal channels


def test_image_size_resizes_then_center_crops(tmp_path):
    root = _write_images(tmp_path / "imgs", classes=("a", "b"), n=4, size=(16, 16), mode="L")
    wide = np.zeros((16, 32), np.uint8)
    wide[:, 4:28] = 255  # black edges only outside the centre
    Image.fromarray(wide).save(root / "a" / "wide.png")
    with pytest.raises(DatasetError, match=r"differ in size .* is 32x16\); set image_size"):
        dataset_info(f"folder:{root}")
    assert dataset_info(f"folder:{root}", image_size=8).input_shape == (1, 8, 8)
    ds = load_dataset(f"folder:{root}", image_size=8)
    images = torch.cat([ds.train.images, ds.test.images])
    assert images.shape == (9, 1, 8, 8)
    # 32x16 -> 16x8 (shorter side 8) -> the central 8x8: columns 8..23 of the original, all white
    assert int((images == 255).all(dim=(1, 2, 3)).sum()) == 1
    # a 16x16 image of level v stays level v at 8x8
    assert sorted(int(v) for v in images[:, 0, 0, 0] if v != 255) == [0, 1, 2, 3, 20, 21, 22, 23]


def test_train_and_test_folders_are_kept_and_shuffled(tmp_path):
    root = tmp_path / "split"
    _write_images(root / "train", n=6)
    _write_images(root / "test", n=2, first=6)
    ds = load_dataset(f"folder:{root}", split_seed=0)
    assert (len(ds.train), len(ds.test)) == (18, 6) and ds.info.num_classes == 3
    assert sorted(ds.test.images[:, 0, 0, 0].tolist()) == [6, 7, 26, 27, 46, 47]
    assert torch.equal(ds.test.images[:, 0, 0, 0].long() // 20, ds.test.labels)
    assert ds.train.labels.tolist() != sorted(ds.train.labels.tolist())  # shuffled by the seed
    other = load_dataset(f"folder:{root}", split_seed=1)
    assert not torch.equal(other.train.labels, ds.train.labels)
    assert torch.equal(other.train.images.sort(dim=0).values, ds.train.images.sort(dim=0).values)


@pytest.mark.parametrize("setup, match", [
    (lambda r: None, "dataset folder '{r}' does not exist"),
    (lambda r: r.mkdir(), "dataset folder '{r}' holds no class folders"),
    (lambda r: _write_images(r, classes=("cat",)), "holds one class folder ('cat'); at least 2 classes"),
    (lambda r: (_write_images(r, classes=("cat",)), (r / "dog").mkdir(), (r / "dog" / "x.txt").write_text("x")),
     "class folder '{r}/dog' holds no images"),
    (lambda r: (_write_images(r), (r / "dog" / "bad.png").write_bytes(b"\x89PNG not really")),
     "corrupt image file '{r}/dog/bad.png'"),
    (lambda r: (_write_images(r / "train"), _write_images(r / "test", classes=("cat", "dog"))),
     "the classes of train/ ['cat', 'dog', 'eel'] and of test/ ['cat', 'dog'] differ"),
    (lambda r: (_write_images(r / "train"), _write_images(r / "test"), (r / "val").mkdir()),
     "holds train/ and test/ beside other folders ['val']"),
    (lambda r: (_write_images(r), Image.fromarray(np.zeros((4, 4), np.uint16)).save(r / "cat" / "deep.png")),
     "image file '{r}/cat/deep.png' has 16-bit or float pixels (PIL mode I"),
])
def test_bad_folders_name_the_problem(tmp_path, setup, match):
    root = tmp_path / "imgs"
    setup(root)
    with pytest.raises(DatasetError, match=__import__("re").escape(match.format(r=root))):
        load_dataset(f"folder:{root}")


def test_a_truncated_image_is_named_when_its_pixels_are_read(tmp_path):
    root = _write_images(tmp_path / "imgs")
    good = (root / "dog" / "03.png").read_bytes()
    (root / "dog" / "03.png").write_bytes(good[:-30])  # the header reads, the pixels do not
    with pytest.raises(DatasetError, match=r"corrupt image file '.*/dog/03\.png'"):
        load_dataset(f"folder:{root}")


def test_a_class_with_one_image_cannot_be_split(tmp_path):
    root = _write_images(tmp_path / "imgs", classes=("a", "b"))
    (root / "c").mkdir()
    (root / "c" / "only.png").write_bytes((root / "a" / "00.png").read_bytes())
    with pytest.raises(DatasetError, match="cannot split 21 samples of 3 classes 80/20 by class"):
        load_dataset(f"folder:{root}")


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_uint8_nhw_and_float_nchw(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    x = rng.integers(0, 256, size=(40, 9, 7), dtype=np.uint8)
    ds = load_dataset(f"npz:{_npz(tmp_path / 'a.npz', x=x, y=y)}", split_seed=2)
    assert ds.info.input_shape == (1, 9, 7) and ds.info.num_classes == 4 and _eps(ds.info) == pytest.approx(MNIST_EPS)
    assert (len(ds.train), len(ds.test)) == (32, 8) and ds.train.images.dtype == torch.uint8
    assert torch.bincount(ds.test.labels).tolist() == [2, 2, 2, 2]
    pairs = {tuple(x[i].ravel()[:4]): int(y[i]) for i in range(40)}  # each image keeps its label
    for image, label in zip(ds.train.images, ds.train.labels):
        assert pairs[tuple(image.ravel()[:4].tolist())] == int(label)
    again = load_dataset(f"npz:{tmp_path / 'a.npz'}", split_seed=2)
    assert torch.equal(again.test.images, ds.test.images)

    xf = rng.uniform(0, 1, size=(40, 3, 5, 6))  # float64 in [0, 1]
    ds = load_dataset(f"npz:{_npz(tmp_path / 'f.npz', x=xf, y=y.astype(np.uint8))}")
    assert ds.info.input_shape == (3, 5, 6) and _eps(ds.info) == pytest.approx(CIFAR_EPS)
    assert ds.train.images.dtype == torch.float32
    assert ds.mean == pytest.approx(tuple(ds.train.images.mean(dim=(0, 2, 3)).tolist()), abs=1e-4)
    assert dataset_info(f"npz:{tmp_path / 'f.npz'}").input_shape == (3, 5, 6)


X4 = np.zeros((4, 8, 8), np.uint8)
Y4 = np.array([0, 1, 0, 1])


@pytest.mark.parametrize("arrays, match", [
    (dict(x=X4), "has no array 'y' (labels); it holds ['x']"),
    (dict(y=Y4), "has no array 'x' (images)"),
    (dict(x=X4, y=Y4[:3]), "x holds 4 images but y holds 3 labels"),
    (dict(x=X4, y=Y4.astype(float)), "y must be a 1-D array of integer labels, got float64"),
    (dict(x=X4, y=Y4 - 1), "labels must be 0..K-1, found -1"),
    (dict(x=X4, y=np.array([0, 2, 0, 2])), "class 1 of 0..2 has no sample"),
    (dict(x=X4, y=np.zeros(4, int)), "y holds one class"),
    (dict(x=np.zeros((4, 8), np.uint8), y=Y4), "x must have shape (N, H, W) or (N, C, H, W), got (4, 8)"),
    (dict(x=X4.astype(np.int64), y=Y4), "x must be uint8 (0..255) or float (0..1), got int64"),
    (dict(x=X4.astype(np.float32) + 2, y=Y4), "float x must lie in [0, 1], found 2..2"),
    (dict(x=np.full((4, 8, 8), np.nan, np.float32), y=Y4), "x holds NaN or infinite values"),
    (dict(x=np.zeros((0, 8, 8), np.uint8), y=np.zeros(0, int)), "x is empty (shape (0, 8, 8))"),
    (dict(x=X4, y=np.array([0, 1, None, 1], dtype=object)), "array 'y' holds Python objects"),
])
def test_bad_npz_names_the_problem(tmp_path, arrays, match):
    path = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=__import__("re").escape(f"npz file '{path}'")) as err:
        load_dataset(f"npz:{path}")
    assert match in str(err.value)


def test_npz_that_is_not_an_archive(tmp_path):
    (tmp_path / "t.npz").write_text("x,y\n1,2\n")
    with pytest.raises(DatasetError, match="is not a NumPy .npz archive"):
        dataset_info(f"npz:{tmp_path / 't.npz'}")
    with pytest.raises(DatasetError, match="does not exist"):
        dataset_info(f"npz:{tmp_path / 'none.npz'}")
    with pytest.raises(DatasetError, match="dataset 'npz:' names no file after 'npz:'"):
        dataset_info("npz:")


def test_estimate_takes_the_input_shape_from_the_folder(tmp_path, capsys):
    root = _write_images(tmp_path / "imgs", size=(20, 20))
    assert main(["estimate", "--model", "small_cnn", "--dataset", f"folder:{root}", "--bits", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input_shape"] == [3, 20, 20] and report["layers"][-1]["weights"] == 64 * 3
    assert main(["estimate", "--model", "small_cnn", "--dataset", f"folder:{root}", "--image-size", "8", "--bits",
                 "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["input_shape"] == [3, 8, 8]
    assert main(["estimate", "--model", "small_cnn", "--dataset", "mnist5k", "--image-size", "8", "--bits", "8"]) == 2
    assert "--image-size applies to --dataset folder:PATH only" in capsys.readouterr().err


def test_config_accepts_user_datasets_and_refuses_misplaced_image_size(tmp_path):
    root = _write_images(tmp_path / "imgs", mode="L")
    c = parse_set([f"dataset=folder:{root}", "image_size=8"], RunConfig())
    assert c.dataset == f"folder:{root}" and c.image_size == 8
    resolved = c.resolve()
    assert resolved.augment == "none" and resolved.ans_eps == pytest.approx(0.1)  # one channel: mnist5k budgets
    assert parse_set(["dataset=npz:data.npz"], RunConfig()).dataset == "npz:data.npz"  # read when resolved
    for sets, match in ([["image_size=8"], "config key 'image_size' applies to folder: datasets only"],
                        [["dataset=npz:x.npz", "image_size=8"], "applies to folder: datasets only"],
                        [["dataset=folder:"], "config key 'dataset' must be str"],  # YAML reads {folder: null}
                        [["dataset='folder:'"], "config key 'dataset': dataset 'folder:' names no folder"],
                        [["dataset=svhn"], "must be one of ['cifar10', 'cifar100', 'digits', 'mnist5k', "
                                           "'synthetic'], folder:PATH or npz:FILE, got 'svhn'"],
                        [[f"dataset=folder:{root}", "image_size=0"], "'image_size' must be between 1 and 1024"]):
        with pytest.raises(ConfigError, match=__import__("re").escape(match)):
            parse_set(sets, RunConfig())
    # unset, image_size stays out of the hash: results folders made before the key existed resume
    plain = RunConfig()
    assert plain.hash() == dataclasses.replace(plain, image_size=None).hash()
    assert c.hash() != dataclasses.replace(c, image_size=16).hash()


@pytest.mark.slow
def test_quanos_run_on_an_image_folder(tmp_path):
    from tests.conftest import FAST

    root = _write_images(tmp_path / "imgs", n=25)
    out = tmp_path / "run"
    sets = [s for s in FAST if not s.startswith(("dataset=", "synthetic_"))]
    args = ["run", "--quiet", "--out", str(out), "--set", f"dataset=folder:{root}", "--set", "image_size=12"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == {"name": f"folder:{root}", "train_size": 60, "test_size": 15,
                                 "input_shape": [3, 12, 12], "num_classes": 3}
    clean = {name: model["robustness"]["clean"] for name, model in report["models"].items()}
    assert all(0.0 <= acc <= 1.0 for acc in clean.values()) and len(clean) >= 4, clean
    assert max(clean.values()) > 1 / 3, clean  # above chance: gray levels 0..24, 20..44, 40..64 per class
