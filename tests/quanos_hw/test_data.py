import pickle
import re

import numpy as np
import pytest
import torch

from quanos_hw.data import TensorData, check_split, dataset_info, list_datasets, load_dataset
from quanos_hw.errors import DatasetError, InputError


def test_mnist5k_is_a_stratified_seeded_split():
    ds = load_dataset("mnist5k")
    assert (len(ds.train), len(ds.test)) == (4000, 1000)
    assert ds.train.images.shape[1:] == (1, 28, 28) and ds.train.images.dtype == torch.float32
    assert 0.0 <= float(ds.train.images.min()) and float(ds.train.images.max()) <= 1.0
    assert torch.bincount(ds.test.labels).tolist() == [100] * 10  # stratified
    assert ds.train.labels[:50].unique().numel() > 5  # shuffled (the source is sorted by label)
    again = load_dataset("mnist5k")
    assert torch.equal(again.test.labels, ds.test.labels)
    other = load_dataset("mnist5k", split_seed=1)
    assert not torch.equal(other.test.labels, ds.test.labels)
    assert ds.mean == pytest.approx((0.1311,), abs=2e-3)


def test_digits():
    ds = load_dataset("digits")
    assert len(ds.train) + len(ds.test) == 1797
    assert ds.test.images.shape[1:] == (1, 8, 8)
    assert float(ds.train.images.max()) == 1.0


def test_synthetic_is_seeded_and_configurable():
    a = load_dataset("synthetic", n_train=50, n_test=20, image_shape=(3, 8, 8), num_classes=4)
    b = load_dataset("synthetic", n_train=50, n_test=20, image_shape=(3, 8, 8), num_classes=4)
    assert torch.equal(a.train.images, b.train.images)
    assert a.info.input_shape == (3, 8, 8) and a.info.num_classes == 4
    assert set(a.train.labels.tolist()) == {0, 1, 2, 3}


def _write_cifar(root, name="cifar10", n=20):
    rng = np.random.default_rng(0)
    folder, files, key = (("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "labels")
                          if name == "cifar10" else ("cifar-100-python", ["train", "test"], "fine_labels"))
    (root / folder).mkdir(parents=True)
    for fname in files:
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 key.encode(): rng.integers(0, 10, size=n).tolist(), b"batch_label": b"generated"}
        with open(root / folder / fname, "wb") as f:
            pickle.dump(batch, f)


@pytest.mark.parametrize("name, n_train", [("cifar10", 100), ("cifar100", 20)])
def test_cifar_reads_the_python_archive_format(tmp_path, name, n_train):
    _write_cifar(tmp_path, name)
    ds = load_dataset(name, data_dir=tmp_path)
    assert len(ds.train) == n_train and len(ds.test) == 20
    assert ds.train.images.dtype == torch.uint8 and ds.info.input_shape == (3, 32, 32)
    x, y = next(ds.train.batches(8))
    assert x.dtype == torch.float32 and x.shape == (8, 3, 32, 32) and float(x.max()) <= 1.0


def test_cifar_refuses_pickled_objects(tmp_path):
    _write_cifar(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": Exception("boom")}, f)
    with pytest.raises(DatasetError, match="refusing to load builtins.Exception"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_missing_cifar_directory_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="cifar10 not found: missing .*data_batch_1"):
        load_dataset("cifar10", data_dir=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="needs a data directory"):
        load_dataset("cifar100")


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'; choose one of: cifar10, cifar100, digits"):
        load_dataset("imagenet")
    assert list_datasets() == ["cifar10", "cifar100", "digits", "mnist5k", "synthetic"]


def test_attack_defaults_follow_the_design():
    assert dataset_info("cifar10").fgsm_eps == pytest.approx((2 / 255, 4 / 255, 8 / 255))
    assert dataset_info("cifar10").ans_eps == pytest.approx(8 / 255)
    assert dataset_info("mnist5k").pgd_eps == 0.1 and dataset_info("mnist5k").pgd_alpha == 0.025


def test_augmentation_is_reproducible_and_shape_preserving():
    ds = load_dataset("synthetic", n_train=16, n_test=4, image_shape=(3, 8, 8))
    idx = torch.arange(16)
    a, _ = ds.train.take(idx, "crop_flip", torch.Generator().manual_seed(1))
    b, _ = ds.train.take(idx, "crop_flip", torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (16, 3, 8, 8)
    assert not torch.equal(a, ds.train.images)


def _corrupt_test_batch(root, name="cifar10", **fields):
    folder, fname, key = (("cifar-10-batches-py", "test_batch", b"labels") if name == "cifar10"
                          else ("cifar-100-python", "test", b"fine_labels"))
    batch = {b"data": np.zeros((40, 3072), np.uint8), key: [0] * 40}
    for field, value in fields.items():
        batch[key if field == "labels" else field.encode()] = value
    if batch.get(b"data") is None:
        del batch[b"data"]
    path = root / folder / fname
    with open(path, "wb") as f:
        pickle.dump(batch, f)
    return path


@pytest.mark.parametrize("fields, message", [
    ({"labels": [0] * 7}, "40 images but 7 labels"),
    ({"labels": [0] * 39 + [99]}, "labels must be in 0..9, found 99 (sample 39)"),
    ({"labels": [-1] + [0] * 39}, "labels must be in 0..9, found -1 (sample 0)"),
    ({"labels": [0.0] * 40}, "labels must be a flat list of integers, got float64 of shape (40,)"),
    ({"labels": [True] * 40}, "labels must be a flat list of integers, got bool"),
    ({"labels": [[0, 1]] * 20}, "labels must be a flat list of integers, got int64 of shape (20, 2)"),
    ({"labels": [[0], [0, 1]]}, "labels are not a flat list of integers"),
    ({"labels": [2**70] * 40}, "labels must be a flat list of integers, got object"),
    ({"data": np.zeros((40, 3072), np.float64)}, "data must be a uint8 array, got float64"),
    ({"data": np.zeros((40, 3072), np.int64)}, "data must be a uint8 array, got int64"),
    ({"data": [[0] * 3072] * 40}, "data must be a uint8 array, got list"),
    ({"data": np.zeros((40, 3071), np.uint8)},
     "data must hold rows of 3072 bytes (3 x 32 x 32 pixels), got shape (40, 3071)"),
    ({"data": np.zeros(40 * 3072, np.uint8)}, "got shape (122880,)"),
    ({"data": None}, "missing data or labels"),
])
def test_every_cifar_batch_file_is_checked_and_named(tmp_path, fields, message):
    _write_cifar(tmp_path)
    path = _corrupt_test_batch(tmp_path, **fields)
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert str(info.value).startswith(f"corrupt dataset file {str(path)!r}: ")
    assert message in str(info.value)


def test_cifar100_labels_range_over_its_100_classes(tmp_path):
    _write_cifar(tmp_path, "cifar100")
    _corrupt_test_batch(tmp_path, "cifar100", labels=[99] * 40)
    assert load_dataset("cifar100", data_dir=tmp_path).test.labels.max() == 99
    path = _corrupt_test_batch(tmp_path, "cifar100", labels=[100] * 40)
    with pytest.raises(DatasetError, match=f"corrupt dataset file {re.escape(repr(str(path)))}: labels must be "
                                           r"in 0\.\.99, found 100 \(sample 0\)"):
        load_dataset("cifar100", data_dir=tmp_path)


def _split(images, labels):
    return TensorData(images, labels)


@pytest.mark.parametrize("split, message", [
    (_split(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long)), None),
    (_split(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.full((4,), 9)), None),
    (_split(torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.long)), "src: 4 images but 3 labels"),
    (_split(torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long)),
     "src: images must have shape (N, 1, 8, 8), got (4, 8, 8)"),
    (_split(torch.zeros(4, 3, 8, 8), torch.zeros(4, dtype=torch.long)), "got (4, 3, 8, 8)"),
    (_split(torch.zeros(4, 1, 8, 8, dtype=torch.float64), torch.zeros(4, dtype=torch.long)),
     "src: images must be uint8 (0..255) or float32 (0..1), got torch.float64"),
    (_split(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.int32)),
     "src: labels must be a 1-D int64 tensor, got torch.int32 of shape (4,)"),
    (_split(torch.zeros(4, 1, 8, 8), torch.zeros(4, 1, dtype=torch.long)), "labels must be a 1-D int64 tensor"),
    (_split(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)), "src holds no samples"),
    (_split(torch.full((4, 1, 8, 8), float("nan")), torch.zeros(4, dtype=torch.long)),
     "src: images hold NaN or infinite values"),
    (_split(torch.full((4, 1, 8, 8), 255.0), torch.zeros(4, dtype=torch.long)),
     "src: float images must lie in [0, 1], found 255..255"),
    (_split(torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 10, 2])), "src: labels must be in 0..9, found 10 (sample 2)"),
])
def test_check_split(split, message):
    if message is None:
        check_split(split, (1, 8, 8), 10, "src")
        return
    with pytest.raises(DatasetError) as info:
        check_split(split, (1, 8, 8), 10, "src")
    text = str(info.value)
    assert (text == message) if message.startswith("src") else (message in text)


def test_every_source_goes_through_check_split(tmp_path, monkeypatch):
    import quanos_hw.data as data_mod

    seen = []
    real = data_mod.check_split
    monkeypatch.setattr(data_mod, "check_split", lambda *a: seen.append(a[3]) or real(*a))
    _write_cifar(tmp_path)
    load_dataset("cifar10", data_dir=tmp_path)
    load_dataset("synthetic", n_train=20, n_test=10)
    assert seen == ["cifar10 train split", "cifar10 test split", "synthetic train split", "synthetic test split"]


@pytest.mark.parametrize("options, message", [
    ({"num_classes": 0}, "synthetic num_classes must be an integer >= 2, got 0"),
    ({"num_classes": 1}, "synthetic num_classes must be an integer >= 2, got 1"),
    ({"n_train": 0}, "synthetic n_train must be an integer >= 1, got 0"),
    ({"n_test": 2.5}, "synthetic n_test must be an integer >= 1, got 2.5"),
    ({"image_shape": (1, 12)}, "synthetic image_shape must be (channels, height, width), got (1, 12)"),
    ({"image_shape": (1, 0, 12)}, "synthetic image_shape entry must be an integer >= 1, got 0"),
    ({"image_shape": (3, 100_000, 100_000)}, "exceeds 1073741824 pixels"),
    ({"noise": float("nan")}, "synthetic noise must be a finite number >= 0, got nan"),
    ({"noise": -0.1}, "synthetic noise must be a finite number >= 0, got -0.1"),
    ({"colour": True}, "unknown synthetic dataset option(s) ['colour']"),
])
def test_synthetic_options_are_checked(options, message):
    with pytest.raises(InputError) as info:
        load_dataset("synthetic", **{"n_train": 20, "n_test": 10, **options})
    assert message in str(info.value)


def test_synthetic_num_classes_reaches_the_dataset_info():
    ds = load_dataset("synthetic", n_train=40, n_test=20, num_classes=20)
    assert ds.info.num_classes == 20 and int(ds.train.labels.max()) == 19
