"""The networks the chapters train, as small, explicit nn.Modules.

Each takes `in_channels` and `num_classes` (and the input size where the
flattened size depends on it) and writes the shape of every step next to it,
so the numbers in a Linear layer are never a mystery. `count_parameters`
counts what an optimizer would train.

The networks live in one file per family: `classic` (chapters 6-8: LeNet,
AlexNet and their relatives), `modern` (chapters 11-13: the blocks of VGG,
NiN, GoogLeNet, ResNet and DenseNet, and small CIFAR-10 networks built from
them) and `fast` (a network shaped for fast CIFAR-10 training). Import them
from here: `models.LeNet`, `models.ResNetSmall`.
"""

from torch import nn

from helpers.models.classic import (MLP, AlexNet2012, AlexNetSmall, LeNet, LeNet1998, ScaledTanh,
                                    SeedsMNISTNet, SmallVGG, Subsampling, ZFNet, cifar_cnn)
from helpers.models.fast import SpeedNet, fast_network
from helpers.models.modern import (Bottleneck, ConvBNReLU, DenseBlock, DenseNetSmall, Frozen,
                                   GoogLeNetSmall, Inception, NiNBlock, NiNSmall, ResidualBlock,
                                   ResNetSmall, Transition, VGGBlock, cifar_networks)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases; not BatchNorm's running statistics)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
