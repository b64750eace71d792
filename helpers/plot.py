"""Small plotting helpers shared by the chapters.

Every function draws into an existing Axes when given ``ax=`` and returns
what it drew on, so a chapter decides layout, titles and when to show.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def show_image(img, ax=None, title: str | None = None, diverging: bool = False,
               colorbar: bool = False, cmap: str | None = None):
    """Draw one image: (H, W) grayscale, or (3, H, W) / (H, W, 3) colour in [0, 1].

    diverging=True centres a red/blue colour map on zero (symmetric limits), so
    negative responses show as blue instead of being clipped to black.
    """
    a = _numpy(img)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    kwargs = {}
    if a.ndim == 2:
        if diverging:
            lim = float(np.abs(a).max()) or 1.0
            kwargs = dict(cmap=cmap or "RdBu_r", vmin=-lim, vmax=lim)
        else:
            kwargs = dict(cmap=cmap or "gray")
    im = ax.imshow(a, interpolation="nearest", **kwargs)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_images(images, titles=None, ncols: int | None = None, diverging=False,
                colorbar: bool = False, size: float = 2.4):
    """Draw several images in a grid; returns the array of Axes.

    `diverging` may be one bool for all images or one per image.
    """
    n = len(images)
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    flags = diverging if isinstance(diverging, (list, tuple)) else [diverging] * n
    for i, ax in enumerate(axes.flat):
        if i < n:
            show_image(images[i], ax=ax, title=titles[i] if titles else None,
                       diverging=flags[i], colorbar=colorbar)
        else:
            ax.axis("off")
    fig.tight_layout()
    return axes


def show_matrix(M, ax=None, title: str | None = None, fmt: str = "{:g}", cmap: str = "Blues",
                highlight=None, highlight_color: str = "tab:orange"):
    """Draw a small matrix as a grid of numbered cells.

    highlight=(row, col, height, width) outlines a window, e.g. the kernel's
    current position.
    """
    a = _numpy(M).astype(float)
    if a.ndim != 2:
        raise ValueError(f"show_matrix expects a 2-D matrix, got shape {a.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * a.shape[1] + 0.6, 0.55 * a.shape[0] + 0.6))
    ax.imshow(a, cmap=cmap, vmin=min(a.min(), 0), vmax=max(a.max(), 1) * 1.6)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(-0.5, a.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, a.shape[0], 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), w, h, fill=False,
                                   edgecolor=highlight_color, linewidth=2.5))
    if title:
        ax.set_title(title, fontsize=10)
    return ax
