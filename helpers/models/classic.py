"""The networks of chapters 6-8: the seeds' MNIST net, a dense baseline, LeNet, a small VGG,
LeNet-5 as published in 1998, AlexNet as published in 2012, ZFNet and a small AlexNet."""

from __future__ import annotations

import torch
from torch import nn

from helpers import checks


class SeedsMNISTNet(nn.Module):
    """The seeds' MNIST network: one conv block, then three dense layers with tanh.

    conv 5x5 (1 -> 32, padding 2), batch norm, ReLU, 2x2 max pool, then
    6272 -> 70 -> 30 -> 10. For 1x28x28 inputs it has 442,446 parameters.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        checks.sizes(in_channels=in_channels, num_classes=num_classes)
        checks.as_int(image_size, "image_size", low=2)  # the 2x2 pool needs at least 2x2
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


class MLP(nn.Module):
    """A multilayer perceptron, the dense (fully connected) baseline: flatten, then ReLU layers.

    It sees an image as an unordered list of C*H*W numbers; nothing in it
    knows which pixels are neighbours. (Not Huang et al.'s DenseNet, whose
    dense blocks are convolutional.)
    """

    def __init__(self, in_features: int = 784, hidden: tuple[int, ...] = (256, 128),
                 num_classes: int = 10):
        super().__init__()
        checks.sizes(in_features=in_features, num_classes=num_classes)
        checks.as_ints(hidden, "hidden", empty=True)
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
        checks.sizes(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
        checks.as_int(padding, "padding", low=0)
        checks.as_bool(batch_norm, "batch_norm")
        s = (image_size + 2 * padding - 4) // 2      # after C1 and the first pool
        s = (s - 4) // 2                             # after C2 and the second pool
        if s < 1:
            raise ValueError(f"a {image_size}x{image_size} input with padding {padding} is too "
                             f"small for LeNet's two 5x5 convolutions and pools")
        def norm(batch_norm_cls, channels):  # BatchNorm where asked for, nothing otherwise
            return [batch_norm_cls(channels)] if batch_norm else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding),  # (N, 6, 28, 28)
            *norm(nn.BatchNorm2d, 6), nn.ReLU(),
            nn.MaxPool2d(2),                                       # (N, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5), *norm(nn.BatchNorm2d, 16), nn.ReLU(),  # (N, 16, 10, 10)
            nn.MaxPool2d(2),                                       # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                          # (N, 16, 5, 5) -> 400
            nn.Linear(16 * s * s, 120), *norm(nn.BatchNorm1d, 120), nn.ReLU(),
            nn.Linear(120, 84), *norm(nn.BatchNorm1d, 84), nn.ReLU(),
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
        checks.sizes(in_channels=in_channels, num_classes=num_classes)
        checks.as_ints(widths, "widths")
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


# --------------------------------------------------------------------------- LeNet, AlexNet and after
# The chapter "LeNet and AlexNet" builds these. Every activation and flatten is a
# module (not a functional call in forward), so helpers.summary can follow the
# receptive field through them.


class ScaledTanh(nn.Tanh):
    """LeNet-5's squashing function, f(x) = 1.7159 tanh(2x/3) (LeCun et al. 1998, appendix A).

    The constants make f(1) = 1 and f(-1) = -1, with the largest gain near
    zero. A subclass of nn.Tanh, so tools that follow tanh layers (such as
    helpers.summary) treat it as the elementwise function it is.
    """

    A, S = 1.7159, 2 / 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.A * torch.tanh(self.S * x)

    def extra_repr(self) -> str:
        return f"{self.A} * tanh({self.S:.4f} * x)"


class Subsampling(nn.AvgPool2d):
    """LeNet-5's trainable subsampling: sum each 2x2 block, times a coefficient, plus a bias.

    One coefficient and one bias per map (2 parameters per channel). The
    coefficient starts at 1/4, so an untrained layer is a 2x2 average. A
    subclass of nn.AvgPool2d (its window is one), so helpers.summary follows
    its receptive field; like BatchNorm's scale, its one multiply per output
    is not counted as a MAC.
    """

    def __init__(self, channels: int):
        super().__init__(kernel_size=2)
        self.weight = nn.Parameter(torch.full((channels,), 0.25))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (N, C, H, W) -> (N, C, H/2, W/2)
        sums = 4 * super().forward(x)                       # the 2x2 sums
        return sums * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"channels={self.weight.numel()}, kernel_size=2"


class LeNet1998(nn.Module):
    """LeNet-5 as published in 1998: scaled tanh and trainable subsampling.

    C1 conv 5x5 (-> 6), S2 subsampling, C3 conv 5x5 (6 -> 16), S4
    subsampling, then 400 -> 120 -> 84 -> classes. The squashing function
    (`ScaledTanh`) follows every convolution, subsampling and hidden dense
    layer, as in the paper. Two simplifications keep every shape: C3 is fully
    connected to S2's six maps (the paper uses a connection table), and the
    output is a linear layer for softmax cross-entropy (the paper uses RBF
    units). `padding` on C1 is 2 for 28x28 inputs and 0 for the original
    32x32; either way 61,750 parameters at 1 channel and 10 classes (the
    modern LeNet's 61,706 plus S2's and S4's 2 x (6 + 16)).

    activation="sigmoid" swaps the squashing function for nn.Sigmoid, an
    ablation, not the published network. batch_norm=True adds BatchNorm
    between every convolution or hidden dense layer and its squashing
    function (452 more parameters); without it there are no placeholder layers.
    """

    ACTIVATIONS = {"tanh": ScaledTanh, "sigmoid": nn.Sigmoid}

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 padding: int = 2, activation: str = "tanh", batch_norm: bool = False):
        super().__init__()
        checks.sizes(in_channels=in_channels, num_classes=num_classes, image_size=image_size)
        checks.as_int(padding, "padding", low=0)
        checks.as_bool(batch_norm, "batch_norm")
        checks.one_of(activation, "activation", tuple(self.ACTIVATIONS))
        act = self.ACTIVATIONS[activation]
        s = (image_size + 2 * padding - 4) // 2      # after C1 and S2
        s = (s - 4) // 2                             # after C3 and S4
        if s < 1:
            raise ValueError(f"a {image_size}x{image_size} input with padding {padding} is too "
                             f"small for LeNet's two 5x5 convolutions and pools")

        def squash(layer: nn.Module, width: int, norm: type[nn.Module] | None) -> list[nn.Module]:
            return [layer, *([norm(width)] if batch_norm and norm else []), act()]

        self.features = nn.Sequential(
            *squash(nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding), 6, nn.BatchNorm2d),
            *squash(Subsampling(6), 6, None),                              # (N, 6, 14, 14)
            *squash(nn.Conv2d(6, 16, kernel_size=5), 16, nn.BatchNorm2d),  # (N, 16, 10, 10)
            *squash(Subsampling(16), 16, None),                            # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                          # (N, 16, 5, 5) -> 400
            *squash(nn.Linear(16 * s * s, 120), 120, nn.BatchNorm1d),
            *squash(nn.Linear(120, 84), 84, nn.BatchNorm1d),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _lrn() -> nn.LocalResponseNorm:
    """AlexNet's local response normalization (n 5, alpha 1e-4, beta 0.75, k 2); no parameters.

    The paper divides by (k + alpha * sum of squares over 5 neighbouring
    channels) ** beta; torch's LocalResponseNorm uses alpha / n in place of
    alpha, so the paper's alpha of 1e-4 is torch's 5e-4.
    """
    return nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)


class AlexNet2012(nn.Module):
    """AlexNet as published in 2012, its two GPU towers written as groups=2.

    Input 3x227x227 (the paper says 224, but only 227 gives its 55x55 maps).
    conv1 96 11x11 stride 4; conv2 256 5x5 in two groups; conv3 384 3x3 reading
    both towers; conv4 384 and conv5 256, two groups each; ReLU, local response
    normalization after conv1 and conv2, overlapping 3x3 stride-2 max pools;
    then 9216 -> 4096 -> 4096 -> classes, with dropout on the outputs of the
    two 4096-unit layers, as the paper applies it (torchvision's AlexNet puts
    its dropout before them instead). 60,965,224 parameters for 1000 classes.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        checks.sizes(num_classes=num_classes)
        checks.as_float(dropout, "dropout", low=0, high=1)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(), _lrn(),    # (N, 96, 55, 55)
            nn.MaxPool2d(kernel_size=3, stride=2),                            # (N, 96, 27, 27)
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2), nn.ReLU(), _lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),                            # (N, 256, 13, 13)
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),         # both towers
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),                            # (N, 256, 6, 6)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                                     # -> 9216
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(dropout),     # FC6
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),            # FC7
            nn.Linear(4096, num_classes),                                     # FC8
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class ZFNet(nn.Module):
    """Zeiler and Fergus's 2013 refinement of AlexNet (their Fig. 3), one tower.

    conv1 7x7 stride 2 instead of 11x11 stride 4, and conv2 with stride 2. The
    paddings are chosen so that a 3x224x224 input gives the figure's map sizes
    110, 55, 26, 13, 13, 13, 13, 6. `widths` are conv3-5's channels: (384, 384,
    256) as in the figure, (512, 1024, 512) for the paper's larger variant.
    Layers 1 and 2 pool, then normalise across channels, in the paper's order
    (AlexNet normalises first); AlexNet's LRN stands in for the paper's
    contrast normalization. Dropout follows the two 4096-unit layers, as in
    AlexNet2012.
    """

    def __init__(self, num_classes: int = 1000, widths: tuple[int, int, int] = (384, 384, 256),
                 dropout: float = 0.5):
        super().__init__()
        checks.sizes(num_classes=num_classes)
        checks.as_ints(widths, "widths", length=3)
        checks.as_float(dropout, "dropout", low=0, high=1)
        c3, c4, c5 = widths
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1), nn.ReLU(),        # (N, 96, 110, 110)
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1), _lrn(),               # (N, 96, 55, 55)
            nn.Conv2d(96, 256, kernel_size=5, stride=2), nn.ReLU(),                 # (N, 256, 26, 26)
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1), _lrn(),               # (N, 256, 13, 13)
            nn.Conv2d(256, c3, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(),                 # (N, c5, 13, 13)
            nn.MaxPool2d(kernel_size=3, stride=2),                                  # (N, c5, 6, 6)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                                           # -> c5 * 36
            nn.Linear(c5 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class AlexNetSmall(nn.Module):
    """AlexNet's design for small grayscale images: same layers, 1/`shrink` of the widths.

    Five convolutions (5x5, 5x5, then three 3x3, all keeping the size) with
    overlapping 3x3 stride-2 max pools after the first, second and fifth; then
    two dropout + dense + ReLU layers and the output layer (dropout before each
    hidden dense layer, torchvision's layout; AlexNet2012 has the paper's). The first layer is
    5x5 with stride 1, not AlexNet's 11x11 with stride 4, which would leave a
    28x28 image 5x5 before the first pool. With shrink=8 the channels are 12,
    32, 48, 48, 32 and the dense layers 512 wide; a 1x28x28 input becomes
    32 maps of 2x2 (128 features); 392,290 parameters, 3,932,224 MACs.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 shrink: int = 8, dropout: float = 0.5):
        super().__init__()
        checks.sizes(in_channels=in_channels, num_classes=num_classes, image_size=image_size,
                     shrink=shrink)
        checks.as_float(dropout, "dropout", low=0, high=1)
        c1, c2, c3, c4, c5 = (max(1, w // shrink) for w in (96, 256, 384, 384, 256))
        hidden = max(1, 4096 // shrink)
        s = image_size
        for _ in range(3):                                    # three 3x3 stride-2 pools
            s = (s - 3) // 2 + 1
        if s < 1:
            raise ValueError(f"a {image_size}x{image_size} input is too small for AlexNetSmall's "
                             f"three 3x3 stride-2 pools; use at least 15x15")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=5, padding=2), nn.ReLU(),  # (N, c1, 28, 28)
            nn.MaxPool2d(kernel_size=3, stride=2),                            # (N, c1, 13, 13)
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),                            # (N, c2, 6, 6)
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),                            # (N, c5, 2, 2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                                     # -> c5 * s * s
            nn.Dropout(dropout), nn.Linear(c5 * s * s, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
