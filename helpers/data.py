"""Data for the chapters: images and datasets, available offline.

Nothing is downloaded or read on import.
"""

from __future__ import annotations

import numpy as np
import torch


def sample_photo(size: int | None = None, gray: bool = True) -> torch.Tensor:
    """The photo of Grace Hopper that ships with matplotlib, as floats in [0, 1].

    gray=True gives (H, W), otherwise (3, H, W). `size` resizes the shorter
    side to `size` pixels (keeping the aspect ratio) with antialiasing.
    """
    import matplotlib.cbook
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        im = im.convert("L" if gray else "RGB")
        if size is not None:
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"size must be a positive int, got {size!r}")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
        a = np.asarray(im, dtype=np.float32) / 255.0
    t = torch.from_numpy(a.copy())
    return t if gray else t.permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)
