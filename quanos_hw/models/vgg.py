"""VGG-11/16/19, CIFAR variants (Simonyan & Zisserman 2015, as used for CIFAR-10 by e.g. QUANOS).

3x3 convs with BatchNorm and ReLU, five 2x2 max-pools and one Linear classifier on the 512
features. At 3x32x32 the features end at 1x1, so the global average pool is an identity and the
MAC count is the textbook one (VGG-16: 313,196,544 conv MACs + 5,120 classifier MACs). The pools
use ceil_mode so the same model also runs on 28x28 inputs.
"""

from __future__ import annotations

from torch import nn

from ..layers import conv_layer, linear_layer
from .base import QuanosModel

CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(QuanosModel):
    def __init__(self, cfg: list, num_classes: int = 10, in_channels: int = 3,
                 weight_scaling: str = "per_channel"):
        super().__init__(in_channels)
        layers: list[nn.Module] = []
        channels = in_channels
        for item in cfg:
            if item == "M":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                layers.append(conv_layer(channels, item, 3, padding=1, weight_scaling=weight_scaling))
                channels = item
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = linear_layer(channels, num_classes, weight_scaling=weight_scaling)

    def forward_features(self, x):
        return self.classifier(self.features(x))
