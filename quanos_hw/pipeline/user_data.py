"""Data given to the Python API (``quanos_hw.run(train=..., test=...)``) as a :class:`Dataset`.

Each split is a TensorData or an iterable of ``(images, labels)`` batches (a DataLoader), gathered
into memory once (:func:`quanos_hw.data.as_tensor_data`) and checked like every dataset
(:func:`quanos_hw.splits.check_split`): (N, C, H, W) images in [0, 1] (float32) or 0..255 (uint8),
int64 labels. The classes are 0..the largest label of either split; the normalisation is the train
split's per-channel mean and standard deviation, as for the named datasets. The attack budgets and
augmentation that the run configuration leaves unset come from its ``dataset`` key's defaults.
"""

from __future__ import annotations

import dataclasses

from ..data import Batches, Dataset, _stats, as_tensor_data, dataset_info
from ..errors import DatasetError
from ..splits import check_split

#: the name of data given as objects, in reports
NAME = "custom"


def user_dataset(train: Batches | None, test: Batches | None, defaults: str) -> Dataset:
    """The Dataset of ``train`` and ``test``; ``defaults`` names the dataset whose attack budgets and
    augmentation it takes."""
    if train is None or test is None:
        raise DatasetError("give both train and test data (or neither, to use config key 'dataset')")
    splits = {}
    for name, data in (("train", train), ("test", test)):
        split = as_tensor_data(data)
        if len(split) == 0:
            raise DatasetError(f"{name} data holds no samples")
        if split.images.ndim != 4:
            raise DatasetError(f"{name} data: images must have shape (N, C, H, W), got {tuple(split.images.shape)}")
        splits[name] = split
    shape = tuple(int(v) for v in splits["train"].images.shape[1:])
    classes = max(2, 1 + max(int(s.labels.max()) for s in splits.values()))
    for name, split in splits.items():
        check_split(split, shape, classes, f"{name} data")
    info = dataclasses.replace(dataset_info(defaults), name=NAME, input_shape=shape, num_classes=classes)
    mean, std = _stats(splits["train"].images)
    return Dataset(info, splits["train"], splits["test"], mean, std)
