"""KernelPlayground: preset or hand-typed 3x3 kernels on a real photo.

The browser side is kernel_playground.js; the arithmetic it runs is conv_math.js.
"""

from __future__ import annotations

import base64

import numpy as np
import torch
import torch.nn.functional as F
import traitlets as t

from helpers import data
from helpers.widgets._base import ExplorerError, _array, _Explorer, _Nested, _in_range, bundle


# Signs as in chapter 2: Sobel x is positive where the photo gets brighter to the right.
PRESETS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "vertical edges": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "horizontal edges": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "box blur": [[1 / 9] * 3] * 3,
    "Gaussian blur 3x3": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "outline (Laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}
PRESETS = {name: [[float(v) for v in row] for row in K] for name, K in PRESETS.items()}


class _Kernel(_Nested):
    """3 x 3 weights, given as numbers or as a preset's name."""

    def set(self, obj, value):  # before List.set, which would wrap a string in a list
        if isinstance(value, str):
            if value not in PRESETS:
                raise ExplorerError(f"unknown preset {value!r}; choose one of {list(PRESETS)}")
            value = PRESETS[value]
        super().set(obj, value)


class KernelPlayground(_Explorer):
    """Run a 3x3 kernel over a photo: presets, hand-typed weights, stride, padding.

    image is (H, W) in [0, 1] (default: helpers.data.sample_photo at `size`
    pixels on the short side); the widget stores it as 8-bit gray, and
    image_tensor() returns exactly the values it filters. kernel is a preset
    name (set it from Python the same way: w.kernel = "sharpen") or a 3x3 array.
    The output is drawn blue (negative), white (zero), red (positive) with
    symmetric limits, so negative responses are not clipped. torch_output() is
    torch's filtered image; out_shape and preset are what a browser view drew
    and shows: written by the view alone, [] and '' until one has drawn.
    """

    _esm = bundle("kernel_playground.js")
    LIMITS = {"stride": (1, 4), "padding": (0, 2), "side": (8, 160)}
    _repr_traits = ("kernel", "stride", "padding")

    image = t.Unicode(help="8-bit grayscale pixels, row by row, base64").tag(sync=True)
    height = t.Int().tag(sync=True)
    width = t.Int().tag(sync=True)
    kernel = _Kernel(help="3 x 3 weights (a preset's name is taken too)").tag(sync=True)
    presets = t.Dict().tag(sync=True)
    preset = t.Unicode("", read_only=True, help="the menu entry a browser view shows for the kernel "
                                                  "('custom' when none matches)").tag(sync=True)
    stride = t.Int(1).tag(sync=True)
    padding = t.Int(0).tag(sync=True)
    out_shape = t.List(read_only=True, help="(H', W') of the image a browser view drew").tag(sync=True)

    def __init__(self, image=None, *, kernel="Sobel x (vertical edges)", stride: int = 1,
                 padding: int = 0, size: int = 80):
        if image is None:
            image = data.sample_photo(size=size)
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        img = np.asarray(image, dtype=np.float64)
        if img.ndim != 2 or not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
            raise ExplorerError(f"image must be (H, W) with values in [0, 1], got shape {img.shape}")
        lo, hi = self.LIMITS["side"]
        if not (lo <= min(img.shape) and max(img.shape) <= hi):
            raise ExplorerError(f"image sides must be {lo} to {hi} pixels, got {img.shape}")
        pixels = np.round(img * 255).astype(np.uint8)
        super().__init__(image=base64.b64encode(pixels.tobytes()).decode("ascii"),
                         height=pixels.shape[0], width=pixels.shape[1], presets=PRESETS,
                         kernel=kernel, stride=stride, padding=padding)

    @t.validate("kernel")
    def _check_kernel(self, proposal):
        a = _array(proposal["value"], 2, "kernel", "(3, 3)")
        if a.shape != (3, 3):
            raise ExplorerError(f"kernel must be 3x3, got {a.shape[0]}x{a.shape[1]}")
        return a.tolist()

    @t.validate("stride", "padding")
    def _check_setting(self, proposal):
        return _in_range(proposal["trait"].name, proposal["value"], self.LIMITS)

    def _pixels(self) -> np.ndarray:
        """The stored photo, (H, W) uint8."""
        return np.frombuffer(base64.b64decode(self.image), dtype=np.uint8).reshape(self.height, self.width)

    def image_tensor(self) -> torch.Tensor:
        """The photo exactly as the widget filters it: (H, W) float32 in [0, 1]."""
        return torch.from_numpy(self._pixels().astype(np.float32) / 255)

    def kernel_tensor(self) -> torch.Tensor:
        """The current 3x3 kernel as a float32 tensor."""
        return torch.tensor(self.kernel, dtype=torch.float32)

    def torch_output(self) -> torch.Tensor:
        """torch's filtered image: F.conv2d of image_tensor() with the kernel, (H', W') float64."""
        x = torch.from_numpy(self._pixels() / 255)[None, None]          # (1, 1, H, W), as the page divides
        k = torch.tensor(self.kernel, dtype=torch.float64)[None, None]  # (1, 1, 3, 3)
        return F.conv2d(x, k, stride=self.stride, padding=self.padding)[0, 0]

    def _repr_args(self) -> dict:
        """As the constructor takes them: a preset's name for a preset's weights."""
        name = next((name for name, K in PRESETS.items() if K == self.kernel), None)
        return {"kernel": name or self.kernel, "stride": self.stride, "padding": self.padding}
