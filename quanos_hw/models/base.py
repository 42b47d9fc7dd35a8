"""Base class of the model zoo: input normalisation inside the model, pixels in [0, 1]."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ..layers import Normalize


class QuanosModel(nn.Module, ABC):
    """A classifier whose ``forward`` takes images in [0, 1] and normalises them itself.

    Subclasses build their layers in ``__init__`` and implement :meth:`forward_features`,
    which receives the normalised input and returns logits.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.normalize = Normalize((0.0,) * in_channels, (1.0,) * in_channels)

    def set_normalization(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        channels = self.normalize.mean.shape[1]
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"normalisation needs {channels} channel values, got {mean}, {std}")
        self.normalize.mean.copy_(torch.tensor(mean).view(1, -1, 1, 1))
        self.normalize.std.copy_(torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.normalize(x))

    @abstractmethod
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the normalised input."""
