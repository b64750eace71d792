"""Small plotting helpers shared by the chapters, and the book's figure style.

Every function draws into an existing Axes when given ``ax=`` and returns
what it drew on, so a chapter decides layout, titles and when to show.

The style (`use_book_style`, called by every chapter's setup cell) is one rule
for every figure: at most COLUMN inches wide, so the page never shrinks it and
text of MIN_FONT points is at least 9.7 pixels on the book's 688-pixel column
at 100 dpi; and stored at twice that resolution, so it stays sharp on 2x
screens. tests/test_book.py checks every committed figure against it.
"""

from __future__ import annotations

import math
import sys

import matplotlib.pyplot as plt
import numpy as np
import torch


COLUMN = 6.8      # inches: the widest figure, 680 px at 100 dpi (the page's column is 688 px)
MIN_FONT = 7      # points: the smallest text a figure may use (9.7 px at 100 dpi)
STYLE = {
    "figure.dpi": 100,
    "figure.figsize": (COLUMN, 3.4),
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
}


def use_book_style() -> None:
    """Apply the book's figure style (see the module docstring) to what follows.

    In a Jupyter kernel, figures are also sent as 2x PNGs that the page shows
    at their 1x size (matplotlib-inline's "retina" format)."""
    plt.rcParams.update(STYLE)
    shell = sys.modules.get("IPython")
    if shell is not None and shell.get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("retina")


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
    size = min(size, COLUMN / ncols)   # a wide row is made smaller, never wider than the page
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


# --------------------------------------------------------------------------- training


def learning_curves(histories, metric: str = "accuracy", ax=None, test_only: bool = False,
                    eval_name: str = "val"):
    """Plot train (dashed) and evaluation (solid) `metric` per epoch for one History or a dict.

    metric is 'accuracy' or 'loss'; `histories` is a helpers.train.History or
    {label: History}. `eval_name` labels the split fit evaluated on after each
    epoch ("val" when it was a validation split). Returns the Axes.
    """
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', got {metric!r}")
    if not isinstance(histories, dict):
        histories = {"": histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3))
    for i, (label, h) in enumerate(histories.items()):
        color = f"C{i}"
        epochs = h.column("epoch")
        name = f"{label} " if label else ""
        ax.plot(epochs, h.column(f"eval_{metric}"), "-o", color=color, ms=3,
                label=f"{name}{eval_name}")
        if not test_only:
            ax.plot(epochs, h.column(f"train_{metric}"), "--", color=color, label=f"{name}train")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def confusion_matrix(matrix, classes, ax=None, normalize: bool = True, title: str | None = None):
    """Draw a confusion matrix (rows: true class, columns: predicted), as row fractions by default.

    `matrix` is (K, K) counts, e.g. from helpers.train.confusion(labels, predictions, K).
    Returns the Axes.
    """
    m = _numpy(matrix).astype(float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise ValueError(f"need a ({len(classes)}, {len(classes)}) matrix, got shape {m.shape}")
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    k = len(classes)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * k + 1.6, 0.45 * k + 1.2))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=m.max() or 1)
    for (i, j), v in np.ndenumerate(m):
        if v > 0:
            text = f"{v:.2f}".lstrip("0") if normalize else f"{int(v)}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * m.max() else "black")
    ax.set_xticks(range(k), classes, rotation=90, fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _to_display(img) -> np.ndarray:
    """uint8 or float image (C, H, W) -> float array in [0, 1] that show_image accepts."""
    a = _numpy(img)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a


def misclassified(images, labels, predictions, classes, n: int = 12, ncols: int = 6,
                  size: float = 1.6, confidence=None):
    """A grid of `n` images whose prediction is wrong, titled 'true -> predicted'.

    images (N, C, H, W) uint8 or in [0, 1]; labels and predictions (N,). Without
    `confidence` the first n mistakes are shown; with it, (N,) probabilities of
    the predicted class, the n most confident mistakes, each title ending with
    its probability. Returns the Axes array.
    """
    labels, predictions = _numpy(labels), _numpy(predictions)
    wrong = np.flatnonzero(labels != predictions)
    if len(wrong) == 0:
        raise ValueError("no misclassified images to show")
    if confidence is not None:
        conf = _numpy(confidence)
        wrong = wrong[np.argsort(-conf[wrong], kind="stable")]
    wrong = wrong[:n]
    titles = [f"{classes[labels[i]]} -> {classes[predictions[i]]}"
              + (f"\n{conf[i]:.2f}" if confidence is not None else "") for i in wrong]
    axes = show_images([_to_display(images[i]) for i in wrong], titles,
                       ncols=min(ncols, len(wrong)), size=size)
    for ax in axes.flat:   # "automobile -> airplane" fits over a narrow image at 9 points
        ax.title.set_fontsize(9)
    axes.flat[0].figure.tight_layout()
    return axes


def kernels(weight, ncols: int = 8, size: float = 1.0):
    """Draw first-layer kernels, weight (out_channels, in_channels, k, k).

    One input channel: each kernel on a red/blue scale centred on zero. Three
    channels: each kernel as a colour image, rescaled to [0, 1] on its own.
    Returns the Axes array.
    """
    w = _numpy(weight).astype(np.float32)
    if w.ndim != 4 or w.shape[1] not in (1, 3):
        raise ValueError(f"need weights (out, 1 or 3, k, k), got shape {w.shape}")
    if w.shape[1] == 1:
        imgs, diverging = [k[0] for k in w], True
    else:
        imgs = [(k - k.min()) / (k.max() - k.min() + 1e-12) for k in w]
        diverging = False
    return show_images(imgs, ncols=min(ncols, len(imgs)), diverging=diverging, size=size)


def feature_maps(maps, ncols: int = 8, size: float = 1.2, titles=None):
    """Draw feature maps (C, H, W) of one image, one small panel per channel.

    Maps that can be negative use a diverging colour map centred on zero.
    Returns the Axes array.
    """
    m = _numpy(maps)
    if m.ndim != 3:
        raise ValueError(f"need maps (C, H, W), got shape {m.shape}")
    diverging = bool(m.min() < 0)
    return show_images(list(m), titles, ncols=min(ncols, len(m)), diverging=diverging, size=size)


def overlay(image, heat, ax=None, title: str | None = None, alpha: float = 0.6, cmap: str = "inferno",
            vmax: float | None = None):
    """Draw a heat map (H, W) over an image (gray (H, W) or colour (C, H, W), uint8 or in [0, 1]).

    The image is shown in gray underneath, the heat map on top, its colours
    running from 0 to `vmax` (default: the map's own maximum; give one vmax to
    several maps to put them on one scale). Returns the axes.
    """
    a, m = _to_display(image), _numpy(heat).astype(np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.mean(axis=0)                              # (C, H, W) -> (H, W) gray
    if a.shape != m.shape:
        raise ValueError(f"heat map {m.shape} must have the image's size {a.shape}")
    ax = show_image(a, ax=ax, title=title)
    top = float(m.max()) if vmax is None else vmax
    ax.imshow(m, cmap=cmap, alpha=alpha, interpolation="nearest", vmin=0, vmax=top if top > 0 else 1)
    return ax
