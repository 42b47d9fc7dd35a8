"""User arrays from a NumPy ``.npz`` file (``dataset=npz:FILE``).

The file holds ``x``: images of shape (N, H, W) (one channel) or (N, C, H, W), uint8 (0..255)
or float (0..1, refused outside), and ``y``: N integer labels 0..K-1 with every class present
(K >= 2). It is read with ``allow_pickle=False``: an object array is refused, never unpickled.
:func:`npz_header` reads ``y`` and only the header of ``x`` (``dataset_info`` stays cheap);
:func:`load_npz` reads and checks everything. Every error is a DatasetError naming the file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError
from .splits import TensorData


@dataclass(frozen=True)
class NpzHeader:
    """Shape (C, H, W) of one image, the number of samples and of classes."""

    shape: tuple[int, int, int]
    samples: int
    num_classes: int


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _where(path: Path) -> str:
    return f"npz file {str(path)!r}"


def _members(path: Path) -> list[str]:
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a regular file"
        raise DatasetError(f"{_where(path)} {what}")
    try:
        with zipfile.ZipFile(path) as z:
            names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{_where(path)} is not a NumPy .npz archive: {_reason(exc)}") from None
    for key, what in (("x", "images"), ("y", "labels")):
        if key not in names:
            raise DatasetError(f"{_where(path)} has no array {key!r} ({what}); it holds {sorted(names)} and needs "
                               "x (images) and y (labels)")
    return names


def _x_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``x`` from its .npy header, without reading the pixels."""
    fmt = np.lib.format
    try:
        with zipfile.ZipFile(path) as z, z.open("x.npy") as f:
            version = fmt.read_magic(f)
            read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
            if read is not None:
                shape, _, dtype = read(f)
                return tuple(shape), dtype
    except Exception as exc:  # noqa: BLE001 - any failure to parse the header is a corrupt file
        raise DatasetError(f"{_where(path)}: corrupt array 'x': {_reason(exc)}") from None
    x = _array(path, "x")  # a header version of its own: read the array
    return x.shape, x.dtype


def _array(path: Path, key: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            return data[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DatasetError(f"{_where(path)}: array {key!r} holds Python objects; store numbers") from None
        raise DatasetError(f"{_where(path)}: corrupt array {key!r}: {_reason(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - any other failure to read is a corrupt file
        raise DatasetError(f"{_where(path)}: corrupt array {key!r}: {_reason(exc)}") from None


def _check_x(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, int, int]:
    if len(shape) not in (3, 4):
        raise DatasetError(f"{_where(path)}: x must have shape (N, H, W) or (N, C, H, W), got {shape}")
    if dtype != np.uint8 and not np.issubdtype(dtype, np.floating):
        raise DatasetError(f"{_where(path)}: x must be uint8 (0..255) or float (0..1), got {dtype}")
    if shape[0] == 0 or 0 in shape[1:]:
        raise DatasetError(f"{_where(path)}: x is empty (shape {shape})")
    return (1, *shape[1:]) if len(shape) == 3 else tuple(shape[1:])


def _check_y(path: Path, y: np.ndarray, samples: int) -> int:
    """The number of classes K of labels ``y``: integers 0..K-1, each present, K >= 2."""
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{_where(path)}: y must be a 1-D array of integer labels, got {y.dtype} of shape "
                           f"{y.shape}")
    if y.shape[0] != samples:
        raise DatasetError(f"{_where(path)}: x holds {samples} images but y holds {y.shape[0]} labels")
    if int(y.min()) < 0:
        raise DatasetError(f"{_where(path)}: labels must be 0..K-1, found {int(y.min())}")
    if int(y.max()) >= samples:
        raise DatasetError(f"{_where(path)}: labels must be 0..K-1 with every class present, found label "
                           f"{int(y.max())} among {samples} samples")
    counts = np.bincount(y.astype(np.int64))
    if counts.size < 2:
        raise DatasetError(f"{_where(path)}: y holds one class; at least 2 are needed")
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        raise DatasetError(f"{_where(path)}: labels must be 0..K-1 with every class present; class {int(missing[0])} "
                           f"of 0..{counts.size - 1} has no sample")
    return int(counts.size)


def npz_header(path: Path) -> NpzHeader:
    """Image shape, sample count and classes of ``path``: ``y`` and the header of ``x``."""
    _members(path)
    shape, dtype = _x_header(path)
    image_shape = _check_x(path, shape, dtype)
    return NpzHeader(image_shape, shape[0], _check_y(path, _array(path, "y"), shape[0]))


def load_npz(path: Path) -> tuple[NpzHeader, TensorData]:
    """All samples of ``path``: uint8 images as they are, float images as float32 in [0, 1]."""
    header = npz_header(path)
    x = _array(path, "x").reshape(header.samples, *header.shape)
    if x.dtype != np.uint8:
        if not np.isfinite(x).all():
            raise DatasetError(f"{_where(path)}: x holds NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise DatasetError(f"{_where(path)}: float x must lie in [0, 1], found {lo:.4g}..{hi:.4g} (divide "
                               "0..255 pixels by 255, or store them as uint8)")
        x = x.astype(np.float32)
    y = _array(path, "y").astype(np.int64)
    return header, TensorData(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
