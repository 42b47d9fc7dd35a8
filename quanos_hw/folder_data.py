"""User images from a folder (``dataset=folder:PATH``) in the torchvision ``ImageFolder`` layout.

``PATH`` holds one sub-folder per class (the sorted folder names are the labels 0..K-1; images
in nested folders count for their class), or exactly two folders ``train/`` and ``test/`` that
each hold the same class folders (a split made by the user). Files are found by torchvision's
``make_dataset`` with its image extensions (``IMG_EXTENSIONS``: .png, .jpg, .jpeg, .bmp, .ppm,
.pgm, .tif, .tiff, .webp); hidden files and folders (names starting with '.') are skipped.

Channels: 1 when every image is grayscale (PIL modes 1, L, LA), else 3 (every image converted to
RGB; alpha is dropped). 16-bit and float images (modes I, I;16, F) are refused rather than
silently clipped. Size: with ``image_size`` S every image is resized (shorter side to S, bilinear
with antialiasing) and center-cropped to S x S (torchvision's Resize + CenterCrop); without it the
images must all have one size, which is kept.

:func:`scan_folder` reads only the image headers (PIL decodes no pixels until asked), so
``dataset_info`` is cheap; :func:`decode` reads the pixels into a uint8 (N, C, H, W) tensor.
Every error is a DatasetError naming the folder or file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import DatasetError
from .splits import TensorData

#: PIL modes read as one grayscale channel (any other accepted mode is converted to RGB)
GRAY_MODES = ("1", "L", "LA")
#: PIL modes of 16-bit or float pixels: converting them to 8 bits would clip, so they are refused
DEEP_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
#: names of the folders of a split made by the user
SPLIT_FOLDERS = ("train", "test")


@dataclass(frozen=True)
class FolderScan:
    """What a dataset folder holds, from the image headers: classes, (file, label) samples of the
    train and test folders (``test`` None: one pool, split by seed), and the decoded shape."""

    root: Path
    classes: tuple[str, ...]
    train: tuple[tuple[str, int], ...]
    test: tuple[tuple[str, int], ...] | None
    shape: tuple[int, int, int]
    image_size: int | None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _visible_dirs(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def _samples(folder: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(file, label) of every image under ``folder``'s class folders; each class needs one."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension, make_dataset

    if not classes:
        raise DatasetError(f"dataset folder {str(folder)!r} holds no class folders (expected one sub-folder of "
                           "images per class)")

    def is_image(path: str) -> bool:  # torchvision's extensions; hidden files and folders skipped
        hidden = any(part.startswith(".") for part in Path(path).relative_to(folder).parts)
        return not hidden and has_file_allowed_extension(path, IMG_EXTENSIONS)

    samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, is_valid_file=is_image,
                           allow_empty=True)
    counts = np.bincount([label for _, label in samples], minlength=len(classes))
    for name, count in zip(classes, counts):
        if count == 0:
            raise DatasetError(f"class folder {str(folder / name)!r} holds no images ({', '.join(IMG_EXTENSIONS)})")
    return samples


def _layout(root: Path) -> tuple[list[str], list[tuple[str, int]], list[tuple[str, int]] | None]:
    """Classes and samples of ``root``: one pool of class folders, or train/ and test/."""
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise DatasetError(f"dataset folder {str(root)!r} {what}")
    folders = _visible_dirs(root)
    if not set(SPLIT_FOLDERS) <= set(folders):
        if len(folders) == 1:
            raise DatasetError(f"dataset folder {str(root)!r} holds one class folder ({folders[0]!r}); at least 2 "
                               "classes are needed")
        return folders, _samples(root, folders), None
    extra = [f for f in folders if f not in SPLIT_FOLDERS]
    if extra:
        raise DatasetError(f"dataset folder {str(root)!r} holds train/ and test/ beside other folders {extra}; "
                           "keep only train/ and test/ (a split of your own) or only class folders")
    classes = _visible_dirs(root / "train")
    test_classes = _visible_dirs(root / "test")
    if classes != test_classes:
        raise DatasetError(f"dataset folder {str(root)!r}: the classes of train/ {classes} and of test/ "
                           f"{test_classes} differ")
    if len(classes) == 1:
        raise DatasetError(f"dataset folder {str(root / 'train')!r} holds one class folder ({classes[0]!r}); "
                           "at least 2 classes are needed")
    return classes, _samples(root / "train", classes), _samples(root / "test", classes)


def _header(path: str) -> tuple[str, tuple[int, int]]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.mode, img.size
    except Exception as exc:  # noqa: BLE001 - any failure to read an image is a corrupt file
        raise DatasetError(f"corrupt image file {path!r}: {_reason(exc)}") from None


def _shape(samples: list[tuple[str, int]], image_size: int | None, root: Path) -> tuple[int, int, int]:
    """(C, H, W) of the decoded images: 1 channel when every image is grayscale, else 3."""
    gray, first = True, None
    for path, _ in samples:
        mode, size = _header(path)
        if mode in DEEP_MODES:
            raise DatasetError(f"image file {path!r} has 16-bit or float pixels (PIL mode {mode}); convert it to "
                               "8-bit grayscale (L) or RGB")
        gray = gray and mode in GRAY_MODES
        if first is None:
            first = (path, size)
        elif image_size is None and size != first[1]:
            raise DatasetError(f"images in dataset folder {str(root)!r} differ in size ({first[0]!r} is "
                               f"{first[1][0]}x{first[1][1]}, {path!r} is {size[0]}x{size[1]}); set image_size to "
                               "resize and center-crop them to one square size")
    width, height = first[1]
    side = (image_size, image_size) if image_size is not None else (height, width)
    return (1 if gray else 3, *side)


def scan_folder(root: Path, image_size: int | None = None) -> FolderScan:
    """Classes, samples and decoded shape of the dataset folder ``root`` (image headers only)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                   or image_size < 1):
        raise DatasetError(f"image_size must be a positive integer, got {image_size!r}")
    classes, train, test = _layout(root)
    shape = _shape(train + (test or []), image_size, root)
    return FolderScan(root, tuple(classes), tuple(train), None if test is None else tuple(test), shape, image_size)


def _pixels(path: str, channels: int, image_size: int | None) -> np.ndarray:
    """One image as uint8 (C, H, W): converted to L or RGB, resized and center-cropped."""
    from PIL import Image
    from torchvision.transforms import functional

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if image_size is not None:
                img = functional.center_crop(functional.resize(img, image_size), [image_size, image_size])
            pixels = np.asarray(img, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - a file whose pixels cannot be decoded is corrupt
        raise DatasetError(f"corrupt image file {path!r}: {_reason(exc)}") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def decode(scan: FolderScan, samples: tuple[tuple[str, int], ...]) -> TensorData:
    """The pixels of ``samples`` as uint8 (N, C, H, W) images and int64 labels."""
    images = np.empty((len(samples), *scan.shape), dtype=np.uint8)
    for i, (path, _) in enumerate(samples):
        pixels = _pixels(path, scan.shape[0], scan.image_size)
        if pixels.shape != scan.shape:
            raise DatasetError(f"image file {path!r} decodes to shape {pixels.shape}, not {scan.shape}")
        images[i] = pixels
    labels = np.array([label for _, label in samples], dtype=np.int64)
    return TensorData(torch.from_numpy(images), torch.from_numpy(labels))
