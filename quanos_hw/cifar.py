"""CIFAR-10/100 from the python-version archives on disk (``cifar-10-batches-py``,
``cifar-100-python``), read with a restricted unpickler that builds only dicts, lists, strings,
numbers and NumPy arrays: a crafted pickle is refused, never executed.

Every batch file is checked before its samples are used (a uint8 array of 3072-byte rows, one
integer label per row, labels within the classes), and the error names the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError
from .splits import TensorData, check_split

#: dataset -> (folder of the archive, train files, test files, key of the labels)
LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels"),
}
SHAPE = (3, 32, 32)
ROW_BYTES = 3 * 32 * 32


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only dicts, lists, strings, numbers and NumPy arrays (the CIFAR batch format)."""

    ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def _read_batch(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse is a corrupt file
        raise DatasetError(f"corrupt dataset file {str(path)!r}: {exc}") from None


def batch_to_split(batch: object, label_key: bytes, num_classes: int, path: Path) -> TensorData:
    """The samples of one unpickled batch file, checked (the format of the python-version archive)."""
    where = f"dataset file {str(path)!r}"
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise DatasetError(f"corrupt {where}: missing data or labels")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"corrupt {where}: data must be a uint8 array, got {kind}")
    if data.ndim != 2 or data.shape[1] != ROW_BYTES:
        raise DatasetError(f"corrupt {where}: data must hold rows of {ROW_BYTES} bytes (3 x 32 x 32 pixels), "
                           f"got shape {data.shape}")
    try:
        labels = np.asarray(batch[label_key])
    except (ValueError, TypeError, OverflowError):
        raise DatasetError(f"corrupt {where}: labels are not a flat list of integers") from None
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"corrupt {where}: labels must be a flat list of integers, got {labels.dtype} "
                           f"of shape {labels.shape}")
    split = TensorData(torch.from_numpy(np.ascontiguousarray(data).reshape(-1, *SHAPE)),
                       torch.from_numpy(labels.astype(np.int64)))
    check_split(split, SHAPE, num_classes, f"corrupt {where}")
    return split


def load_cifar(name: str, num_classes: int, data_dir: str | Path | None,
               download: bool) -> tuple[TensorData, TensorData]:
    if data_dir is None:
        raise DatasetError(f"{name} needs a data directory (--data-dir); this tool never downloads unasked")
    root = Path(data_dir)
    folder, train_files, test_files, label_key = LAYOUT[name]
    if download:
        import torchvision

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        try:
            cls(root=str(root), train=True, download=True)
            cls(root=str(root), train=False, download=True)
        except Exception as exc:  # noqa: BLE001 - network errors vary by platform
            raise DatasetError(f"could not download {name} into {str(root)!r}: {exc}") from None

    def load(files: list[str]) -> TensorData:
        splits = []
        for fname in files:
            path = root / folder / fname
            try:
                batch = _read_batch(path)
            except FileNotFoundError:
                raise DatasetError(
                    f"{name} not found: missing {str(path)!r} (expected the python-version archive extracted "
                    f"under {str(root)!r}; pass download=True / --download to fetch it)"
                ) from None
            splits.append(batch_to_split(batch, label_key, num_classes, path))
        return TensorData(torch.cat([s.images for s in splits]), torch.cat([s.labels for s in splits]))

    return load(train_files), load(test_files)
