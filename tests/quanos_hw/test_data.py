import pickle

import numpy as np
import pytest
import torch

from quanos_hw.data import dataset_info, list_datasets, load_dataset
from quanos_hw.errors import DatasetError


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
