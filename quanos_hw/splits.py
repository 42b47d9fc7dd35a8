"""One data split in memory (:class:`TensorData`), its checks and its augmentation.

Kept apart from data.py so that the dataset readers (data.py, cifar.py) can all build and check
splits without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .errors import DatasetError


@dataclass
class TensorData:
    """One split in memory: ``images`` (N, C, H, W) in [0, 1] (float32) or 0..255 (uint8)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def _float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x

    def take(self, idx: torch.Tensor, augment: str = "none",
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples at ``idx`` as float images in [0, 1] (augmented from ``generator``) and labels."""
        x = self._float(self.images[idx])
        if augment != "none":
            pad, flip = AUGMENTATIONS[augment]
            x = _random_crop(x, generator, pad, flip)
        return x, self.labels[idx]

    def batches(self, batch_size: int, max_batches: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (images, labels) batches in order, without augmentation."""
        for count, start in enumerate(range(0, len(self), batch_size)):
            if max_batches is not None and count >= max_batches:
                return
            yield self.take(torch.arange(start, min(start + batch_size, len(self))))

    def to(self, device: torch.device | str) -> TensorData:
        return TensorData(self.images.to(device), self.labels.to(device))

    def head(self, count: int) -> TensorData:
        return TensorData(self.images[:count], self.labels[:count])


def check_split(split: TensorData, image_shape: tuple[int, ...], num_classes: int, origin: str) -> None:
    """Refuse a split that does not hold what every consumer assumes; the one check of every data
    source (``origin`` names the file or split in the error). Images: an (N, C, H, W) tensor of
    ``image_shape`` samples, uint8 (0..255) or finite float32 in [0, 1]; labels: N int64 values in
    0..num_classes-1; N >= 1."""
    x, y = split.images, split.labels
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise DatasetError(f"{origin}: images and labels must be tensors")
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        raise DatasetError(f"{origin}: images must have shape (N, {', '.join(map(str, image_shape))}), got "
                           f"{tuple(x.shape)}")
    if x.dtype not in (torch.uint8, torch.float32):
        raise DatasetError(f"{origin}: images must be uint8 (0..255) or float32 (0..1), got {x.dtype}")
    if y.ndim != 1 or y.dtype != torch.int64:
        raise DatasetError(f"{origin}: labels must be a 1-D int64 tensor, got {y.dtype} of shape {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise DatasetError(f"{origin}: {x.shape[0]} images but {y.shape[0]} labels")
    if y.shape[0] == 0:
        raise DatasetError(f"{origin} holds no samples")
    if x.dtype == torch.float32:
        if not bool(torch.isfinite(x).all()):
            raise DatasetError(f"{origin}: images hold NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise DatasetError(f"{origin}: float images must lie in [0, 1], found {lo:.4g}..{hi:.4g}")
    bad = ((y < 0) | (y >= num_classes)).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise DatasetError(f"{origin}: labels must be in 0..{num_classes - 1}, found {int(y[i])} (sample {i})")


#: augmentation name -> (padding of the random crop, random horizontal flip)
AUGMENTATIONS = {"shift": (2, False), "crop_flip": (4, True)}


def _random_crop(x: torch.Tensor, generator: torch.Generator | None, pad: int, flip: bool) -> torch.Tensor:
    """Random crop of the zero-padded image (a shift by up to ``pad`` pixels), optional h-flip.

    ``crop_flip`` (pad 4 + flip) is the standard CIFAR augmentation; ``shift`` (pad 2, no flip)
    suits digits."""
    n, _, h, w = x.shape
    dev = x.device
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])[:, None, None, :]
    batch = torch.arange(n, device=dev)[:, None, None, None]
    out = padded[batch, torch.arange(x.shape[1], device=dev)[None, :, None, None], rows, cols]
    if flip:
        flipped = (torch.rand(n, generator=generator) < 0.5).to(dev)
        out[flipped] = out[flipped].flip(-1)
    return out
