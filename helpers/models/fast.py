"""A network shaped for fast training on CIFAR-10 (after airbench94)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from helpers import checks
from helpers.data import Split


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
        widths = checks.as_ints(widths, "widths", length=3)
        checks.sizes(num_classes=num_classes)
        checks.as_bool(identity_init, "identity_init")
        checks.as_bool(bn_scale, "bn_scale")
        bn_momentum = checks.as_float(bn_momentum, "bn_momentum", low=0, high=1)
        logit_scale = checks.as_float(logit_scale, "logit_scale")

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


def fast_network(train_data: Split, whiten_images: int = 5000, *, whiten: bool = True,
                 **settings) -> Callable[[], SpeedNet]:
    """The build function (no argument) of the book's fast recipe: a SpeedNet with its settings,
    its first layer whitened from the first `whiten_images` images of `train_data`, in
    channels-last memory (faster convolutions on CPUs).

    The whitening is computed by the first call of the build function and
    reused by later calls (about a second each on 2 cores for 5,000 images;
    the ablation builds one network per run). The whitened weights' last bits
    depend on the number of threads (even an eigenvector's sign can flip), so
    `build.derived_from_data` tells the run store how they are made instead.

    For ablations, whiten=False leaves the first layer random and trainable, and keyword
    `settings` replace SpeedNet's (identity_init=True, bn_momentum=0.4, bn_scale=False,
    logit_scale=1/9), e.g. fast_network(train, identity_init=False).
    """
    whiten_images = checks.as_int(whiten_images, "whiten_images", low=1)
    whiten = checks.as_bool(whiten, "whiten")
    settings = {"identity_init": True, "bn_momentum": 0.4, "bn_scale": False,
                "logit_scale": 1 / 9, **settings}
    images = train_data.normalize(train_data.images[:whiten_images]) if whiten else None
    whitened = {}  # the first build's whitening weights: they depend on the images alone

    def build() -> SpeedNet:
        net = SpeedNet(**settings)
        if whiten:
            if not whitened:
                whitened["weight"] = net.whiten_from(images).whiten.weight.detach().clone()
            else:
                with torch.no_grad():
                    net.whiten.weight.copy_(whitened["weight"])
                net.whiten.weight.requires_grad_(False)
        return net.to(memory_format=torch.channels_last)
    if whiten:  # the run store keys these weights by how they are made (helpers.runs)
        build.derived_from_data = {
            "whiten.weight": f"SpeedNet.whiten_from(the first {len(images)} training images)"}
    return build
