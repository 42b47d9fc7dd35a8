"""A small VGG-style CNN sized for 28x28 grayscale digits (mnist5k) and 8x8 digits.

Four 3x3 conv layers (16-32-64-64 channels) with BatchNorm and ReLU, two max-pools, global
average pooling and one linear classifier: 5 quantizable layers, about 67k parameters and
9.2M MACs at 1x28x28.
"""

from __future__ import annotations

from torch import nn

from ..layers import conv_layer, linear_layer
from .base import QuanosModel


class SmallCNN(QuanosModel):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, weight_scaling: str = "per_channel"):
        super().__init__(in_channels)
        ws = weight_scaling
        self.features = nn.Sequential(
            conv_layer(in_channels, 16, 3, padding=1, weight_scaling=ws),
            conv_layer(16, 32, 3, padding=1, weight_scaling=ws),
            nn.MaxPool2d(2, ceil_mode=True),
            conv_layer(32, 64, 3, padding=1, weight_scaling=ws),
            nn.MaxPool2d(2, ceil_mode=True),
            conv_layer(64, 64, 3, padding=1, weight_scaling=ws),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = linear_layer(64, num_classes, weight_scaling=ws)

    def forward_features(self, x):
        return self.classifier(self.features(x))
