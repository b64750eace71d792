"""A hand-drawn digit, prepared the way MNIST's digits were.

MNIST's digits were scaled so that each fits a 20x20 box (keeping its aspect
ratio) and then shifted by whole pixels in a 28x28 field so that the centre of
mass of the ink sits at the field's centre. Measured on all 70,000 digits, that
centre is (14, 14) in 0-based pixel coordinates (field // 2), not the geometric
13.5: 69,998 digits have their centre of mass within half a pixel of (14, 14),
17,426 within half a pixel of (13.5, 13.5). A network trained on MNIST has only
seen digits like that, so a drawing must be prepared the same way before it is
classified. `center_digit` does it in Python; NetworkExplorer's JavaScript
(helpers/widgets/net_math.js, `centerDigit`) does the same, step for step,
and tests/test_network_explorer.py and tests/test_drawing.py check that both
agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from helpers import checks


def bounding_box(ink: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), inclusive, of the pixels > 0 in an (H, W) image."""
    rows = (ink > 0).any(dim=1).nonzero()[:, 0]
    cols = (ink > 0).any(dim=0).nonzero()[:, 0]
    if len(rows) == 0:
        raise ValueError("the image has no ink (no pixel above 0): nothing to centre")
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def fit_box(ink: torch.Tensor, box: int = 20) -> torch.Tensor:
    """Crop (H, W) to its ink and scale it (area averaging) so the longer side is `box` pixels."""
    box = checks.as_int(box, "box", low=1)
    top, bottom, left, right = bounding_box(ink)
    crop = ink[top:bottom + 1, left:right + 1].double()
    bh, bw = crop.shape
    scale = box / max(bh, bw)
    h, w = max(1, _round(bh * scale)), max(1, _round(bw * scale))
    return F.adaptive_avg_pool2d(crop[None, None], (h, w))[0, 0]   # (h, w)


def center_of_mass(img: torch.Tensor) -> tuple[float, float]:
    """(row, column) of the centre of mass of an (h, w) image, pixel centres at 0, 1, 2, ..."""
    rows = torch.arange(img.shape[0], dtype=torch.float64)
    cols = torch.arange(img.shape[1], dtype=torch.float64)
    mass = img.sum()
    return float((img.sum(1) * rows).sum() / mass), float((img.sum(0) * cols).sum() / mass)


def center_digit(ink, box: int = 20, field: int = 28) -> torch.Tensor:
    """MNIST's preparation of a drawing: (H, W) ink, 0 for paper -> (field, field) float64.

    Scale the ink's bounding box to fit box x box, then shift it by whole pixels so
    that its centre of mass lands on (field // 2, field // 2), (14, 14) for 28, where
    MNIST's digits have theirs. Ink shifted past the field's edge is cut off.
    Values keep their scale: ink in [0, 1] comes back in [0, 1], ink in 0-255 (a
    uint8 drawing) comes back in 0-255. Ink must be finite and >= 0 (ValueError
    otherwise), and 1 <= box <= field.
    """
    ink = torch.as_tensor(ink, dtype=torch.float64)
    if ink.dim() != 2:
        raise ValueError(f"need one (H, W) image, got shape {tuple(ink.shape)}")
    if not torch.isfinite(ink).all():
        raise ValueError(f"ink must be finite numbers; the image has {int((~torch.isfinite(ink)).sum())} "
                         f"NaN or infinite pixels")
    if (ink < 0).any():
        raise ValueError(f"ink must be >= 0 (0 is blank paper), got pixels down to {ink.min().item():g}; "
                         f"pass the drawing before it is standardised")
    field = checks.as_int(field, "field", low=1)
    box = checks.as_int(box, "box", low=1, high=field)
    small = fit_box(ink, box)
    cy, cx = center_of_mass(small)
    centre = field // 2
    dy, dx = math.floor(centre - cy + 0.5), math.floor(centre - cx + 0.5)
    out = torch.zeros(field, field, dtype=torch.float64)
    h, w = small.shape
    r0, c0 = max(0, dy), max(0, dx)                       # where the digit lands, clipped
    r1, c1 = min(field, dy + h), min(field, dx + w)
    out[r0:r1, c0:c1] = small[r0 - dy:r1 - dy, c0 - dx:c1 - dx]
    return out


def _round(v: float) -> int:
    """Round half up (as JavaScript's Math.round for positive numbers; Python's round goes to even)."""
    return math.floor(v + 0.5)
