"""The blocks and small CIFAR-10 networks of chapters 11-13: residual blocks and ResNets,
Frozen (transfer learning), and the VGG, NiN, Inception and DenseNet blocks."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from helpers import checks

from helpers.models.classic import SmallVGG


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
        checks.sizes(in_channels=in_channels, out_channels=out_channels, stride=stride)
        checks.as_bool(shortcut, "shortcut")
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
        checks.sizes(blocks=blocks, in_channels=in_channels, num_classes=num_classes,
                     stem_stride=stem_stride)
        checks.as_ints(widths, "widths")
        checks.as_bool(shortcuts, "shortcuts")
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
        checks.sizes(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride)
        if padding is None:
            padding = kernel_size // 2
        checks.as_int(padding, "padding", low=0)
        checks.one_of(order, "order", self.ORDERS)
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
        checks.sizes(in_channels=in_channels, out_channels=out_channels, convs=convs)
        checks.as_bool(batch_norm, "batch_norm")
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
        checks.sizes(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                     stride=stride)
        checks.as_int(padding, "padding", low=0)
        checks.as_bool(batch_norm, "batch_norm")
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
        checks.sizes(in_channels=in_channels, num_classes=num_classes)
        checks.as_ints(widths, "widths", length=3)
        checks.as_bool(batch_norm, "batch_norm")
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
        checks.sizes(in_channels=in_channels, c1=c1, c4=c4)
        checks.as_bool(batch_norm, "batch_norm")
        for name, pair in (("c2", c2), ("c3", c3)):
            checks.as_ints(pair, name, length=2)  # (channels of the 1x1 reduction, out)
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
        checks.sizes(in_channels=in_channels, num_classes=num_classes)
        checks.as_bool(batch_norm, "batch_norm")
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
        checks.sizes(in_channels=in_channels, mid_channels=mid_channels, out_channels=out_channels,
                     stride=stride)
        checks.as_bool(shortcut, "shortcut")
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
        checks.sizes(in_channels=in_channels, growth_rate=growth_rate, layers=layers)
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
        checks.sizes(in_channels=in_channels, out_channels=out_channels)
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
        checks.sizes(in_channels=in_channels, num_classes=num_classes, growth_rate=growth_rate)
        checks.as_ints(layers, "layers")
        checks.as_float(compression, "compression", low=0, high=1)
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
