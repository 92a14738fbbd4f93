"""PyTorch definitions of the BlinkNet reference networks.

Every network flattens with ``nn.Flatten`` (exported as a single ONNX
``Flatten`` node, no Shape/Gather/Concat/Reshape chain) and returns raw logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


class LeNet5(nn.Module):
    """LeNet-5 on a 1x32x32 input: conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> fc 120 -> fc 84 -> fc 10."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),  # 32 -> 28
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # 28 -> 14
            nn.Conv2d(6, 16, 5),  # 14 -> 10
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # 10 -> 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class Cifar10Quick(nn.Module):
    """Caffe's ``cifar10_quick`` layer for layer (3x32x32 input, 145,578 parameters).

    Caffe rounds pooling output sizes up, hence ``ceil_mode=True`` everywhere
    (32 -> 16 -> 8 -> 4).  Caffe's AVE pooling with pad 0 divides each window
    by its size after clipping to the input; PyTorch's ``AvgPool2d`` with
    ``ceil_mode=True`` and pad 0 does the same (whatever ``count_include_pad``
    says), and ``count_include_pad=False`` makes the exported ONNX
    ``AveragePool`` state that divisor explicitly (``count_include_pad=0``).
    As in the original there is no ReLU between ip1 and ip2.
    """

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2),  # conv1
            nn.MaxPool2d(3, 2, ceil_mode=True),  # pool1 (MAX): 32 -> 16
            nn.ReLU(),  # relu1
            nn.Conv2d(32, 32, 5, padding=2),  # conv2
            nn.ReLU(),  # relu2
            nn.AvgPool2d(3, 2, ceil_mode=True, count_include_pad=False),  # pool2 (AVE): 16 -> 8
            nn.Conv2d(32, 64, 5, padding=2),  # conv3
            nn.ReLU(),  # relu3
            nn.AvgPool2d(3, 2, ceil_mode=True, count_include_pad=False),  # pool3 (AVE): 8 -> 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 64),  # ip1
            nn.Linear(64, classes),  # ip2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# VGG16 configuration "D" (13 convs in blocks of 2, 2, 3, 3, 3), narrowed.
VGG_BLOCKS = (2, 2, 3, 3, 3)
VGG_WIDTHS = (16, 32, 64, 128, 128)
VGG_HIDDEN = 256


class VGG(nn.Module):
    """VGG16-D layout (13 x conv3x3 pad 1 + BN + ReLU, 2x2 max pool after each block) on 3x32x32.

    32 -> 16 -> 8 -> 4 -> 2 -> 1 after the five pools, so the classifier sees
    ``widths[-1]`` features.  In eval mode the ONNX exporter folds every
    BatchNorm into the preceding Conv, and Dropout disappears.
    """

    def __init__(
        self,
        classes: int = 10,
        widths: tuple[int, ...] = VGG_WIDTHS,
        blocks: tuple[int, ...] = VGG_BLOCKS,
        hidden: int = VGG_HIDDEN,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for width, count in zip(widths, blocks):
            for _ in range(count):
                layers += [
                    nn.Conv2d(c, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                c = width
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(c, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(hidden, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[], nn.Module]
    dataset: str
    channels: int
    pad: int
    classes: int
    architecture: str
    default_epochs: int

    @property
    def size(self) -> int:
        return 28 + 2 * self.pad


def _vgg_description() -> str:
    convs = "-".join(
        f"{count}x{width}" for width, count in zip(VGG_WIDTHS, VGG_BLOCKS)
    )
    return (
        f"VGG16-D layout narrowed: 13 conv3x3 pad 1 ({convs}) each with BatchNorm (folded into the "
        f"conv on export) + ReLU, maxpool 2x2 after each block, fc {VGG_HIDDEN} -> relu -> fc 10 "
        "(dropout 0.3 while training)"
    )


MODELS: dict[str, ModelSpec] = {
    "lenet5-mnist": ModelSpec(
        name="lenet5-mnist",
        build=LeNet5,
        dataset="mnist",
        channels=1,
        pad=2,
        classes=10,
        architecture=(
            "LeNet-5: conv 6@5x5 -> relu -> maxpool 2 -> conv 16@5x5 -> relu -> maxpool 2 -> "
            "fc 120 -> relu -> fc 84 -> relu -> fc 10"
        ),
        default_epochs=15,
    ),
    "cifar10quick-fmnist": ModelSpec(
        name="cifar10quick-fmnist",
        build=Cifar10Quick,
        dataset="fashion-mnist",
        channels=3,
        pad=2,
        classes=10,
        architecture=(
            "Caffe cifar10_quick: conv1 32@5x5 pad 2 -> maxpool 3/2 (ceil) -> relu -> conv2 32@5x5 pad 2 -> "
            "relu -> avepool 3/2 (ceil) -> conv3 64@5x5 pad 2 -> relu -> avepool 3/2 (ceil) -> ip1 64 -> ip2 10"
        ),
        default_epochs=12,
    ),
    "vgg-fmnist": ModelSpec(
        name="vgg-fmnist",
        build=VGG,
        dataset="fashion-mnist",
        channels=3,
        pad=2,
        classes=10,
        architecture=_vgg_description(),
        default_epochs=8,
    ),
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
