"""The networks the chapters train, as small, explicit nn.Modules.

Each takes `in_channels` and `num_classes` (and the input size where the
flattened size depends on it) and writes the shape of every step next to it,
so the numbers in a Linear layer are never a mystery. `count_parameters`
counts what an optimizer would train.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable

import torch
from torch import nn

from helpers import checks


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases; not BatchNorm's running statistics)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_args(model: str, **args) -> None:
    """Refuse nonsense constructor arguments before any layer is built.

    Each keyword is `name=(value, rule)`. Rules: an int n (the value must be
    an int >= n; True and False are not ints here), "bool", "ints" (a
    sequence of ints >= 1; "ints+" if it may not be empty, "ints3" for
    exactly three) and "probability" (a number in [0, 1]).
    """
    def is_int(v) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    for name, (value, rule) in args.items():
        if isinstance(rule, int):
            ok, want = is_int(value) and value >= rule, f"an int >= {rule}"
        elif rule == "bool":
            ok, want = isinstance(value, bool), "True or False"
        elif rule.startswith("ints"):
            lengths = {"ints": range(0, 1 << 30), "ints+": range(1, 1 << 30), "ints3": range(3, 4)}
            ok = (isinstance(value, (tuple, list)) and len(value) in lengths[rule]
                  and all(is_int(v) and v >= 1 for v in value))
            want = {"ints": "a tuple of ints >= 1", "ints+": "a non-empty tuple of ints >= 1",
                    "ints3": "a tuple of 3 ints >= 1"}[rule]
        else:
            ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
                  and 0 <= value <= 1)
            want = "a number from 0 to 1"
        if not ok:
            raise ValueError(f"{model}: {name} must be {want}, got {value!r} ({type(value).__name__})")


class SeedsMNISTNet(nn.Module):
    """The seeds' MNIST network: one conv block, then three dense layers with tanh.

    conv 5x5 (1 -> 32, padding 2), batch norm, ReLU, 2x2 max pool, then
    6272 -> 70 -> 30 -> 10. For 1x28x28 inputs it has 442,446 parameters.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        _check_args("SeedsMNISTNet", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    image_size=(image_size, 2))  # the 2x2 pool needs at least 2x2
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
        _check_args("MLP", in_features=(in_features, 1), hidden=(hidden, "ints"),
                    num_classes=(num_classes, 1))
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
        _check_args("LeNet", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    image_size=(image_size, 1), padding=(padding, 0), batch_norm=(batch_norm, "bool"))
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
        _check_args("SmallVGG", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    widths=(widths, "ints+"))
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
        _check_args("LeNet1998", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    image_size=(image_size, 1), padding=(padding, 0), batch_norm=(batch_norm, "bool"))
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"LeNet1998: activation must be one of {sorted(self.ACTIVATIONS)}, "
                             f"got {activation!r}")
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
        _check_args("AlexNet2012", num_classes=(num_classes, 1), dropout=(dropout, "probability"))
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
        _check_args("ZFNet", num_classes=(num_classes, 1), widths=(widths, "ints3"),
                    dropout=(dropout, "probability"))
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
        _check_args("AlexNetSmall", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    image_size=(image_size, 1), shrink=(shrink, 1), dropout=(dropout, "probability"))
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


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """A residual block's shortcut: the identity if the shape stays, else a strided 1x1 projection + BN."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class ResidualBlock(nn.Module):
    """ResNet's basic block: relu(F(x) + shortcut(x)), F = conv3x3-BN-ReLU-conv3x3-BN.

    The first 3x3 convolution has the given stride; padding 1 keeps the size
    otherwise. When the block keeps the shape (stride 1, same channels) the
    shortcut is the identity. When it changes the shape, the shortcut is a 1x1
    convolution with the same stride, plus BatchNorm: a learned projection of
    x (N, in_channels, H, W) to F(x)'s shape (N, out_channels, H', W').
    shortcut=False gives the "plain" block of the same layers, relu(F(x)),
    which He et al. compare against (`shortcut` is then None).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: bool = True):
        super().__init__()
        _check_args("ResidualBlock", in_channels=(in_channels, 1), out_channels=(out_channels, 1),
                    stride=(stride, 1), shortcut=(shortcut, "bool"))
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = _shortcut(in_channels, out_channels, stride) if shortcut else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:                                 # plain: no shortcut
            return self.relu(self.residual(x))
        return self.relu(self.residual(x) + self.shortcut(x))   # (N, out_channels, H', W')


class ResNetSmall(nn.Module):
    """A small ResNet in the style of He et al.'s CIFAR-10 networks, or its plain twin.

    A 3x3 stem convolution (BatchNorm, ReLU) to widths[0] channels, then one
    stage of `blocks` ResidualBlocks per width; every stage after the first
    starts with a stride-2 block that halves the size. Global average pooling
    and one dense layer classify. It has 2 * blocks * len(widths) + 2 layers
    with weights on its longest path (projection shortcuts not counted): with
    widths (16, 32, 64), blocks=3 is ResNet-20 (on 3x32x32: 272,474 parameters,
    40,813,184 MACs) and blocks=9 ResNet-56.
    shortcuts=False builds the plain network of the same layers. `stem_stride`
    2 halves the input first, which makes a deep stack cheap on 28x28 images.
    """

    def __init__(self, blocks: int = 3, widths: tuple[int, ...] = (16, 32, 64),
                 shortcuts: bool = True, in_channels: int = 3, num_classes: int = 10,
                 stem_stride: int = 1):
        super().__init__()
        _check_args("ResNetSmall", blocks=(blocks, 1), widths=(widths, "ints+"),
                    shortcuts=(shortcuts, "bool"), in_channels=(in_channels, 1),
                    num_classes=(num_classes, 1), stem_stride=(stem_stride, 1))
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=stem_stride, padding=1,
                      bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            stage = [ResidualBlock(c if b == 0 else w, w, stride=2 if (i > 0 and b == 0) else 1,
                                   shortcut=shortcuts) for b in range(blocks)]
            stages.append(nn.Sequential(*stage))
            c = w
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    @property
    def depth(self) -> int:
        """Layers with weights on the longest path: stem, two per block, the dense layer."""
        return 2 + 2 * sum(len(stage) for stage in self.stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class Frozen(nn.Module):
    """A trained part of a network that does not train any more: transfer learning's frozen features.

    Freezing takes two things: its parameters get requires_grad=False (no
    gradient, so the optimizer leaves them alone), and it stays in eval mode
    even when the network around it is put in train mode, so that its
    BatchNorm layers keep the running statistics they learned instead of
    re-estimating them from the new data's batches.

    Frozen wraps the module itself, not a copy: `Frozen(net.features)` also
    freezes `net.features` inside `net` (and any module shared with it), and
    puts it in eval mode there. To keep the original trainable, wrap a copy:
    `Frozen(copy.deepcopy(net.features))`.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"Frozen wraps an nn.Module, got {type(module).__name__}")
        self.module = module.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> Frozen:
        super().train(mode)
        self.module.eval()   # whatever the mode of the whole network
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


# --------------------------------------------------------------------------- blocks of modern CNNs
# The chapter "Blocks of modern CNNs" builds these, one idea per module, and
# small CIFAR-10 (3x32x32) networks from them. The blocks take batch_norm=False
# by default, as in their papers (all but the residual and dense blocks predate
# batch normalization); the CIFAR networks switch it on everywhere, so that a
# later comparison under one training recipe compares architectures, not
# normalization. Merges (torch.cat, +) are written in forward; helpers.summary
# reports the receptive field after them as unknown.


class ConvBNReLU(nn.Sequential):
    """A convolution, batch normalization and ReLU in a chosen order.

    order:
      "conv-relu"     no batch normalization (the pre-2015 layer);
      "conv-bn-relu"  BN between the convolution and the ReLU (Ioffe and Szegedy 2015);
      "conv-relu-bn"  BN after the ReLU;
      "bn-relu-conv"  "pre-activation": BN and ReLU first (He et al. 2016, DenseNet).
    The convolution has a bias except in "conv-bn-relu", where BN's learned
    shift makes it redundant. padding=None keeps the size at stride 1
    (kernel_size // 2). (N, in_channels, H, W) -> (N, out_channels, H', W').
    """

    ORDERS = ("conv-relu", "conv-bn-relu", "conv-relu-bn", "bn-relu-conv")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | None = None, order: str = "conv-bn-relu"):
        _check_args("ConvBNReLU", in_channels=(in_channels, 1), out_channels=(out_channels, 1),
                    kernel_size=(kernel_size, 1), stride=(stride, 1))
        if padding is None:
            padding = kernel_size // 2
        _check_args("ConvBNReLU", padding=(padding, 0))
        if order not in self.ORDERS:
            raise ValueError(f"ConvBNReLU: order must be one of {', '.join(self.ORDERS)}; "
                             f"got {order!r}")
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=order != "conv-bn-relu")
        layers = {"conv-relu": [conv, nn.ReLU()],
                  "conv-bn-relu": [conv, nn.BatchNorm2d(out_channels), nn.ReLU()],
                  "conv-relu-bn": [conv, nn.ReLU(), nn.BatchNorm2d(out_channels)],
                  "bn-relu-conv": [nn.BatchNorm2d(in_channels), nn.ReLU(), conv]}[order]
        super().__init__(*layers)
        self.order = order


def _conv(in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool,
          **kwargs) -> ConvBNReLU:
    """conv-bn-relu with batch_norm, conv-relu without: the layer every block below uses."""
    return ConvBNReLU(in_channels, out_channels, kernel_size,
                      order="conv-bn-relu" if batch_norm else "conv-relu", **kwargs)


class VGGBlock(nn.Sequential):
    """Simonyan and Zisserman's block: `convs` 3x3 convolutions (padding 1, ReLU), then a 2x2 max pool.

    (N, in_channels, H, W) -> (N, out_channels, H/2, W/2). Every convolution
    keeps the size, so the pool alone halves it. batch_norm=True puts BN
    between each convolution and its ReLU (not in the 2014 paper).
    """

    def __init__(self, in_channels: int, out_channels: int, convs: int = 2,
                 batch_norm: bool = False):
        _check_args("VGGBlock", in_channels=(in_channels, 1), out_channels=(out_channels, 1),
                    convs=(convs, 1), batch_norm=(batch_norm, "bool"))
        layers = [_conv(in_channels if i == 0 else out_channels, out_channels, 3, batch_norm)
                  for i in range(convs)]
        super().__init__(*layers, nn.MaxPool2d(2))


# The small VGG the earlier chapters train is already a stack of VGG blocks (two
# convolutions each, BN after every convolution; its convolutions keep their
# biases). With the default widths (32, 64, 128), on 3x32x32: 289,194
# parameters, 38,634,752 MACs.


class NiNBlock(nn.Sequential):
    """Lin et al.'s "mlpconv" layer: a convolution, then two 1x1 convolutions, each with a ReLU.

    The 1x1 convolutions are a small dense network applied at every position,
    across the channels. (N, in_channels, H, W) -> (N, out_channels, H', W'),
    H' = (H + 2 * padding - kernel_size) // stride + 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, batch_norm: bool = False):
        _check_args("NiNBlock", in_channels=(in_channels, 1), out_channels=(out_channels, 1),
                    kernel_size=(kernel_size, 1), stride=(stride, 1), padding=(padding, 0),
                    batch_norm=(batch_norm, "bool"))
        super().__init__(
            _conv(in_channels, out_channels, kernel_size, batch_norm, stride=stride,
                  padding=padding),
            _conv(out_channels, out_channels, 1, batch_norm),
            _conv(out_channels, out_channels, 1, batch_norm),
        )


class NiNSmall(nn.Module):
    """A small Network in Network for 3x32x32 inputs: no dense layer at all.

    Three mlpconv blocks (5x5, 3x3, 3x3; widths 64, 128, 128) with a 2x2 max
    pool after the first two: (N, 128, 8, 8). A last 1x1 convolution makes one
    map per class and a global average pool turns each map into that class's
    score. With BN (the default): 302,922 parameters, 52,183,040 MACs.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10,
                 widths: tuple[int, int, int] = (64, 128, 128), batch_norm: bool = True):
        super().__init__()
        _check_args("NiNSmall", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    widths=(widths, "ints3"), batch_norm=(batch_norm, "bool"))
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            NiNBlock(in_channels, w1, 5, padding=2, batch_norm=batch_norm),  # (N, w1, 32, 32)
            nn.MaxPool2d(2),                                                 # (N, w1, 16, 16)
            NiNBlock(w1, w2, 3, padding=1, batch_norm=batch_norm),
            nn.MaxPool2d(2),                                                 # (N, w2, 8, 8)
            NiNBlock(w2, w3, 3, padding=1, batch_norm=batch_norm),           # (N, w3, 8, 8)
        )
        self.head = nn.Sequential(
            nn.Conv2d(w3, num_classes, kernel_size=1),                       # (N, classes, 8, 8)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),                           # (N, classes)
        )

    @property
    def depth(self) -> int:
        """Layers with weights on the longest path: three per block, the last 1x1."""
        return 3 * 3 + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Inception(nn.Module):
    """GoogLeNet's Inception block: four branches side by side, concatenated along the channels.

    b1: 1x1 conv to c1.  b2: 1x1 conv to c2[0], then 3x3 to c2[1].
    b3: 1x1 conv to c3[0], then 5x5 to c3[1].  b4: 3x3 max pool (stride 1), then 1x1 to c4.
    Every branch keeps H and W, so (N, in_channels, H, W) -> (N, out_channels, H, W)
    with out_channels = c1 + c2[1] + c3[1] + c4. A ReLU follows every
    convolution (batch_norm=True puts BN before it, as torchvision's GoogLeNet does).
    """

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int],
                 c4: int, batch_norm: bool = False):
        super().__init__()
        _check_args("Inception", in_channels=(in_channels, 1), c1=(c1, 1), c4=(c4, 1),
                    batch_norm=(batch_norm, "bool"))
        for name, pair in (("c2", c2), ("c3", c3)):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ValueError(f"Inception: {name} must be a pair (reduce, out) of ints >= 1, "
                                 f"got {pair!r}")
            _check_args("Inception", **{name: (pair, "ints+")})
        bn = batch_norm
        self.b1 = _conv(in_channels, c1, 1, bn)
        self.b2 = nn.Sequential(_conv(in_channels, c2[0], 1, bn), _conv(c2[0], c2[1], 3, bn))
        self.b3 = nn.Sequential(_conv(in_channels, c3[0], 1, bn), _conv(c3[0], c3[1], 5, bn))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv(in_channels, c4, 1, bn))
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.b1(x), self.b2(x), self.b3(x), self.b4(x)]  # each (N, c_i, H, W)
        return torch.cat(branches, dim=1)                              # (N, out_channels, H, W)


class GoogLeNetSmall(nn.Module):
    """A small GoogLeNet for 3x32x32 inputs: a 3x3 stem and four Inception blocks.

    Stem conv 3x3 to 64 channels and a 2x2 max pool (N, 64, 16, 16); two
    Inception blocks with half the widths of GoogLeNet's 3a and 3b (-> 128,
    -> 240); a 2x2 max pool (N, 240, 8, 8); two more at about half of 4a and
    4b (-> 256, -> 256); global average pooling and one dense layer. BN after
    every convolution by default. 347,250 parameters, 49,396,224 MACs.
    """

    BLOCKS = ((32, (48, 64), (8, 16), 16),        # 64 -> 128 channels, at 16x16
              (64, (64, 96), (16, 48), 32),       # 128 -> 240
              "pool",                             # 16x16 -> 8x8
              (96, (48, 104), (8, 24), 32),       # 240 -> 256
              (80, (56, 112), (12, 32), 32))      # 256 -> 256

    def __init__(self, in_channels: int = 3, num_classes: int = 10, batch_norm: bool = True):
        super().__init__()
        _check_args("GoogLeNetSmall", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    batch_norm=(batch_norm, "bool"))
        self.stem = nn.Sequential(_conv(in_channels, 64, 3, batch_norm), nn.MaxPool2d(2))
        blocks, c = [], 64
        for spec in self.BLOCKS:
            if spec == "pool":
                blocks.append(nn.MaxPool2d(2))
                continue
            block = Inception(c, *spec, batch_norm=batch_norm)
            blocks.append(block)
            c = block.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    @property
    def depth(self) -> int:
        """Layers with weights on the longest path: the stem, two per Inception block, the dense layer."""
        return 1 + 2 * sum(isinstance(b, Inception) for b in self.blocks) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class Bottleneck(nn.Module):
    """ResNet's bottleneck block: relu(F(x) + shortcut(x)), F = 1x1, 3x3, 1x1 convolutions.

    The first 1x1 shrinks in_channels to mid_channels, the 3x3 (with the
    stride) works on the narrow tensor, the last 1x1 widens to out_channels;
    BN after each and ReLU after the first two. The stride sits on the 3x3, as
    in torchvision (the 2015 paper put it on the first 1x1). Shortcut as in
    ResidualBlock: the identity when the shape stays, else a strided 1x1
    convolution with BN; shortcut=False gives the plain block (shortcut None).
    (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, stride: int = 1,
                 shortcut: bool = True):
        super().__init__()
        _check_args("Bottleneck", in_channels=(in_channels, 1), mid_channels=(mid_channels, 1),
                    out_channels=(out_channels, 1), stride=(stride, 1), shortcut=(shortcut, "bool"))
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(mid_channels), nn.ReLU(),
            nn.Conv2d(mid_channels, mid_channels, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels), nn.ReLU(),
            nn.Conv2d(mid_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = _shortcut(in_channels, out_channels, stride) if shortcut else None
        self.relu = nn.ReLU()

    forward = ResidualBlock.forward                                 # relu(F(x) + shortcut(x))


class DenseBlock(nn.Module):
    """Huang et al.'s dense block: every layer reads the concatenation of all earlier outputs.

    Layer i is BN-ReLU-conv3x3 from in_channels + i * growth_rate channels to
    growth_rate, and its output is concatenated to its input, so
    (N, in_channels, H, W) -> (N, in_channels + layers * growth_rate, H, W).
    """

    def __init__(self, in_channels: int, growth_rate: int, layers: int):
        super().__init__()
        _check_args("DenseBlock", in_channels=(in_channels, 1), growth_rate=(growth_rate, 1),
                    layers=(layers, 1))
        self.layers = nn.ModuleList(
            ConvBNReLU(in_channels + i * growth_rate, growth_rate, 3, order="bn-relu-conv")
            for i in range(layers))
        self.out_channels = in_channels + layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)    # (N, c, H, W) -> (N, c + growth_rate, H, W)
        return x


class Transition(nn.Sequential):
    """DenseNet's transition between dense blocks: BN-ReLU-1x1 conv, then a 2x2 average pool.

    The 1x1 convolution sets the number of channels (DenseNet-C halves it),
    the pool halves the size: (N, in_channels, H, W) -> (N, out_channels, H/2, W/2).
    """

    def __init__(self, in_channels: int, out_channels: int):
        _check_args("Transition", in_channels=(in_channels, 1), out_channels=(out_channels, 1))
        super().__init__(ConvBNReLU(in_channels, out_channels, 1, order="bn-relu-conv"),
                         nn.AvgPool2d(2))


class DenseNetSmall(nn.Module):
    """A small DenseNet (Huang et al. 2017) for 3x32x32 inputs.

    A 3x3 stem convolution to 2 * growth_rate channels, then dense blocks of
    `layers` layers each, with a Transition that halves the channels
    (`compression` 0.5, DenseNet-C) and the size between blocks; BN-ReLU, global
    average pooling and one dense layer. With growth_rate 12 and layers
    (6, 6, 6): 24 -> 96 -> 48 -> 120 -> 60 -> 132 channels, 22 layers with
    weights on the longest path, 161,326 parameters, 59,730,216 MACs. Unlike the
    paper's, the convolutions in the dense layers and transitions keep their biases.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, growth_rate: int = 12,
                 layers: tuple[int, ...] = (6, 6, 6), compression: float = 0.5):
        super().__init__()
        _check_args("DenseNetSmall", in_channels=(in_channels, 1), num_classes=(num_classes, 1),
                    growth_rate=(growth_rate, 1), layers=(layers, "ints+"),
                    compression=(compression, "probability"))
        if compression == 0:
            raise ValueError("DenseNetSmall: compression must be above 0 (a transition needs "
                             "at least one output channel), got 0")
        c = 2 * growth_rate
        self.stem = nn.Conv2d(in_channels, c, kernel_size=3, padding=1, bias=False)
        stages: list[nn.Module] = []
        for i, n in enumerate(layers):
            block = DenseBlock(c, growth_rate, n)
            stages.append(block)
            c = block.out_channels
            if i < len(layers) - 1:                   # no transition after the last block
                out = max(1, int(c * compression))
                stages.append(Transition(c, out))
                c = out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(c, num_classes))

    @property
    def depth(self) -> int:
        """Layers with weights on the longest path: stem, every dense layer, transitions, the dense layer."""
        return 1 + sum(len(s.layers) if isinstance(s, DenseBlock) else 1 for s in self.stages) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def cifar_networks() -> dict[str, Callable[[], nn.Module]]:
    """Chapter 11's five small CIFAR-10 networks by name, as builders that take no argument.

    Chapter 12 and benchmarks/cifar_models.py train exactly these: the classes'
    defaults, and ResNet-20 = ResNetSmall(blocks=3, widths=(16, 32, 64)).
    """
    return {"VGG": SmallVGG, "NiN": NiNSmall, "GoogLeNet": GoogLeNetSmall,
            "ResNet-20": functools.partial(ResNetSmall, blocks=3, widths=(16, 32, 64)),
            "DenseNet": DenseNetSmall}


class SpeedNet(nn.Module):
    """A network shaped for fast CIFAR-10 training, after airbench94 (Jordan, 2024).

    A 2 x 2 convolution without padding (24 channels; `whiten_from` sets its
    weights from the training images so that its outputs are decorrelated,
    and freezes them), GELU, then three groups of
    conv 3x3 -> max pool 2 -> BN -> GELU -> conv 3x3 -> BN -> GELU at
    `widths` (64, 256, 256), then the maximum over the last 3 x 3 maps and a
    linear layer whose output is multiplied by `logit_scale`. The maps shrink
    early (31 -> 15 -> 7 -> 3), so the wide layers run on few positions: on
    3x32x32 about 118 million multiply-adds per image.

    identity_init=True starts each 3x3 convolution as the identity on its
    first input-many channels (the rest keep PyTorch's random start), so
    at the start each convolution passes those channels through unchanged. bn_momentum and
    bn_scale (False: BatchNorm's scale is fixed at 1, only its shift
    trains) are BatchNorm settings that fast training tunes.
    """

    def __init__(self, widths: tuple[int, int, int] = (64, 256, 256), num_classes: int = 10,
                 identity_init: bool = False, bn_momentum: float = 0.1, bn_scale: bool = True,
                 logit_scale: float = 1.0):
        super().__init__()
        if not isinstance(widths, (tuple, list)) or len(widths) != 3:
            raise ValueError(f"SpeedNet: widths must be 3 ints >= 1, got {widths!r}")
        widths = tuple(checks.as_int(w, "SpeedNet widths", low=1) for w in widths)
        num_classes = checks.as_int(num_classes, "SpeedNet num_classes", low=1)
        checks.as_bool(identity_init, "SpeedNet identity_init")
        checks.as_bool(bn_scale, "SpeedNet bn_scale")
        bn_momentum = checks.as_float(bn_momentum, "SpeedNet bn_momentum", low=0.0, high=1.0)
        logit_scale = checks.as_float(logit_scale, "SpeedNet logit_scale")

        def bn(c: int) -> nn.BatchNorm2d:
            norm = nn.BatchNorm2d(c, momentum=bn_momentum)
            norm.weight.requires_grad_(bn_scale)
            return norm

        self.whiten = nn.Conv2d(3, 24, kernel_size=2)
        groups, c = [], 24
        for w in widths:
            groups.append(nn.Sequential(
                nn.Conv2d(c, w, kernel_size=3, padding=1, bias=False), nn.MaxPool2d(2), bn(w),
                nn.GELU(), nn.Conv2d(w, w, kernel_size=3, padding=1, bias=False), bn(w),
                nn.GELU()))
            c = w
        self.groups = nn.Sequential(*groups)
        self.linear = nn.Linear(c, num_classes, bias=False)
        self.logit_scale = logit_scale
        if identity_init:
            with torch.no_grad():
                for m in self.groups.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.dirac_(m.weight[:m.in_channels])

    def whiten_from(self, images: torch.Tensor, eps: float = 1e-2) -> SpeedNet:
        """Set the 2x2 layer from normalised training images (N, 3, H, W) and freeze its weights.

        The 12 values of a 2 x 2 patch are correlated (neighbouring pixels
        look alike). With the eigenvectors V and eigenvalues L of their
        covariance, the filters V / sqrt(L + eps) map a patch to 12
        uncorrelated outputs of variance about 1; the layer keeps them and
        their negatives (24 filters), so the GELU after it loses no sign.
        The bias stays trainable. Returns the network.
        """
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3 \
                or not images.is_floating_point() or len(images) == 0:
            raise ValueError("whiten_from needs normalised float images (N, 3, H, W), N >= 1, got "
                             f"{getattr(images, 'shape', type(images).__name__)}")
        eps = checks.as_float(eps, "eps", low=0.0)
        patches = images.double().unfold(2, 2, 1).unfold(3, 2, 1)          # (N, 3, H-1, W-1, 2, 2)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)        # one row per patch
        cov = torch.cov(patches.T)                                          # (12, 12)
        values, vectors = torch.linalg.eigh(cov)                            # ascending eigenvalues
        filters = (vectors / (values + eps).sqrt()).T.reshape(12, 3, 2, 2)
        with torch.no_grad():
            self.whiten.weight.copy_(torch.cat([filters, -filters]).to(self.whiten.weight))
        self.whiten.weight.requires_grad_(False)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(nn.functional.gelu(self.whiten(x)))                 # (N, 256, 3, 3)
        return self.linear(torch.amax(x, dim=(2, 3))) * self.logit_scale
