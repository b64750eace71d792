"""The networks the chapters train, as small, explicit nn.Modules.

Each takes `in_channels` and `num_classes` (and the input size where the
flattened size depends on it) and writes the shape of every step next to it,
so the numbers in a Linear layer are never a mystery. `count_parameters`
counts what an optimizer would train.
"""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases; not BatchNorm's running statistics)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class SeedsMNISTNet(nn.Module):
    """The seeds' MNIST network: one conv block, then three dense layers with tanh.

    conv 5x5 (1 -> 32, padding 2), batch norm, ReLU, 2x2 max pool, then
    6272 -> 70 -> 30 -> 10. For 1x28x28 inputs it has 442,446 parameters.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        half = image_size // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=5, padding=2),  # (N, 32, 28, 28)
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),                                       # (N, 32, 14, 14)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                          # (N, 32, 14, 14) -> 6272
            nn.Linear(32 * half * half, 70), nn.Tanh(),
            nn.Linear(70, 30), nn.Tanh(),
            nn.Linear(30, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class DenseNet(nn.Module):
    """A dense (fully connected) baseline: flatten, then ReLU hidden layers.

    It sees an image as an unordered list of C*H*W numbers; nothing in it
    knows which pixels are neighbours.
    """

    def __init__(self, in_features: int = 784, hidden: tuple[int, ...] = (256, 128),
                 num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]                  # (N, C, H, W) -> C*H*W
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet(nn.Module):
    """LeNet-5 in its modern form: ReLU and max pooling instead of sigmoid and subsampling.

    conv 5x5 (-> 6) and pool, conv 5x5 (6 -> 16) and pool, then 400 -> 120 -> 84 -> classes.
    For a 28x28 input C1 needs padding=2 to produce 28x28 maps; for a 32x32
    input use padding=0. Either way 61,706 parameters at 1 channel and 10
    classes. batch_norm=True adds BatchNorm after each convolution and the
    first two dense layers (a variant that trains faster; not in the 1998 net).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 padding: int = 2, batch_norm: bool = False):
        super().__init__()
        s = (image_size + 2 * padding - 4) // 2      # after C1 and the first pool
        s = (s - 4) // 2                             # after C2 and the second pool
        if s < 1:
            raise ValueError(f"a {image_size}x{image_size} input with padding {padding} is too "
                             f"small for LeNet's two 5x5 convolutions and pools")
        norm2d = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
        norm1d = (lambda c: nn.BatchNorm1d(c)) if batch_norm else (lambda c: nn.Identity())
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding), norm2d(6), nn.ReLU(),
            nn.MaxPool2d(2),                                       # (N, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5), norm2d(16), nn.ReLU(),  # (N, 16, 10, 10)
            nn.MaxPool2d(2),                                       # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                          # (N, 16, 5, 5) -> 400
            nn.Linear(16 * s * s, 120), norm1d(120), nn.ReLU(),
            nn.Linear(120, 84), norm1d(84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def cifar_cnn(in_channels: int = 3, num_classes: int = 10) -> LeNet:
    """The seeds' small CIFAR-10 CNN: LeNet on 3x32x32 (no padding), 62,006 parameters."""
    return LeNet(in_channels, num_classes, image_size=32, padding=0)


class SmallVGG(nn.Module):
    """A small VGG-style network: blocks of two 3x3 convolutions (BatchNorm, ReLU) and a pool.

    Each block keeps the size (padding 1) and doubles the channels; its
    2x2 max pool halves the size. With widths (32, 64, 128) a 32x32 image
    becomes 128 maps of 4x4; global average pooling and one dense layer
    classify them.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10,
                 widths: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:                                           # (N, c, s, s) -> (N, w, s/2, s/2)
            for _ in range(2):
                layers += [nn.Conv2d(c, w, kernel_size=3, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)                     # (N, 128, 4, 4) for 32x32
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),                 # (N, 128, 4, 4) -> 128
            nn.Linear(c, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
