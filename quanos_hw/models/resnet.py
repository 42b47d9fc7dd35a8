"""CIFAR ResNets: ResNet-20 (He et al., CVPR 2016, Sec. 4.2) and the CIFAR ResNet-18.

ResNet-20 uses parameter-free option-A shortcuts (stride-2 subsampling plus zero channel
padding): 269,722 trainable parameters and 40,551,040 MACs at 3x32x32. ResNet-18 (the widely
used CIFAR variant: 3x3 stem, no stem pooling) uses 1x1-conv projection shortcuts (option B),
which are quantizable layers of their own with a signed activation quantizer.

In a block the second conv's BatchNorm output is added to the shortcut before the ReLU, so its
activation quantizer sees ``relu(bn2(conv2(h)) + shortcut(x))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import conv_layer, linear_layer
from .base import QuanosModel


class PadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad the new channels (no parameters)."""

    def __init__(self, stride: int, extra_channels: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        pad = self.extra_channels // 2
        return F.pad(x, (0, 0, 0, 0, pad, self.extra_channels - pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, option: str, weight_scaling: str):
        super().__init__()
        ws = weight_scaling
        self.conv1 = conv_layer(in_planes, planes, 3, stride=stride, padding=1, weight_scaling=ws)
        self.conv2 = conv_layer(planes, planes, 3, padding=1, weight_scaling=ws)
        if stride == 1 and in_planes == planes:
            self.shortcut: nn.Module = nn.Identity()
        elif option == "A":
            self.shortcut = PadShortcut(stride, planes - in_planes)
        else:
            self.shortcut = conv_layer(in_planes, planes, 1, stride=stride, relu=False, weight_scaling=ws)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x), residual=self.shortcut(x))


class ResNet(QuanosModel):
    def __init__(self, widths: list[int], blocks: list[int], option: str, num_classes: int = 10,
                 in_channels: int = 3, weight_scaling: str = "per_channel"):
        super().__init__(in_channels)
        self.conv1 = conv_layer(in_channels, widths[0], 3, padding=1, weight_scaling=weight_scaling)
        in_planes = widths[0]
        stages = []
        for i, (width, count) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            layers = []
            for j in range(count):
                layers.append(BasicBlock(in_planes, width, stride if j == 0 else 1, option, weight_scaling))
                in_planes = width
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3 = stages[:3]
        self.layer4 = stages[3] if len(stages) > 3 else nn.Identity()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = linear_layer(in_planes, num_classes, weight_scaling=weight_scaling)

    def forward_features(self, x):
        x = self.conv1(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x))


def resnet20(**kwargs) -> ResNet:
    return ResNet([16, 32, 64], [3, 3, 3], option="A", **kwargs)


def resnet18(**kwargs) -> ResNet:
    return ResNet([64, 128, 256, 512], [2, 2, 2, 2], option="B", **kwargs)
