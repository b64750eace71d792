"""KernelPlayground: preset or hand-typed 3x3 kernels on a real photo.

The browser side is kernel_playground.js; the arithmetic it runs is conv_math.js.
"""

from __future__ import annotations

import base64

import numpy as np
import torch
import traitlets as t

from helpers import conv, data
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


class KernelPlayground(_Explorer):
    """Run a 3x3 kernel over a photo: presets, hand-typed weights, stride, padding.

    image is (H, W) in [0, 1] (default: helpers.data.sample_photo at `size`
    pixels on the short side); the widget stores it as 8-bit gray, and
    image_tensor() returns exactly the values it filters. kernel is a preset
    name or a 3x3 array. The output is drawn blue (negative), white (zero),
    red (positive) with symmetric limits, so negative responses are not clipped.
    """

    _esm = bundle("kernel_playground.js")
    LIMITS = {"stride": (1, 4), "padding": (0, 2), "side": (8, 160)}
    _repr_traits = ("preset", "stride", "padding", "out_shape")

    image = t.Unicode(help="8-bit grayscale pixels, row by row, base64").tag(sync=True)
    height = t.Int().tag(sync=True)
    width = t.Int().tag(sync=True)
    kernel = _Nested(help="3 x 3 weights").tag(sync=True)
    presets = t.Dict().tag(sync=True)
    preset = t.Unicode("custom").tag(sync=True)
    stride = t.Int(1).tag(sync=True)
    padding = t.Int(0).tag(sync=True)
    out_shape = t.List(help="(H', W') of the filtered image").tag(sync=True)

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
        if isinstance(kernel, str):
            if kernel not in PRESETS:
                raise ExplorerError(f"unknown preset {kernel!r}; choose one of {list(PRESETS)}")
            kernel = PRESETS[kernel]
        super().__init__(image=base64.b64encode(pixels.tobytes()).decode("ascii"),
                         height=pixels.shape[0], width=pixels.shape[1], presets=PRESETS,
                         kernel=kernel, stride=stride, padding=padding)
        self._refresh()

    @t.validate("kernel")
    def _check_kernel(self, proposal):
        a = _array(proposal["value"], 2, "kernel", "(3, 3)")
        if a.shape != (3, 3):
            raise ExplorerError(f"kernel must be 3x3, got {a.shape[0]}x{a.shape[1]}")
        return a.tolist()

    @t.validate("stride", "padding")
    def _check_setting(self, proposal):
        return _in_range(proposal["trait"].name, proposal["value"], self.LIMITS)

    @t.validate("preset")
    def _check_preset(self, proposal):
        if proposal["value"] not in (*PRESETS, "custom"):
            raise ExplorerError(f"unknown preset {proposal['value']!r}; choose one of {list(PRESETS)}")
        return proposal["value"]

    @t.observe("preset")
    def _on_preset(self, change):
        if not self._from_browser() and change["new"] != "custom":
            self.kernel = PRESETS[change["new"]]

    @t.observe("kernel", "stride", "padding")
    def _on_setting(self, change):
        if not self._from_browser():
            self._refresh()

    def image_tensor(self) -> torch.Tensor:
        """The photo exactly as the widget filters it: (H, W) float32 in [0, 1]."""
        pixels = np.frombuffer(base64.b64decode(self.image), dtype=np.uint8)
        return torch.from_numpy(pixels.reshape(self.height, self.width).astype(np.float32) / 255)

    def kernel_tensor(self) -> torch.Tensor:
        """The current 3x3 kernel as a float32 tensor."""
        return torch.tensor(self.kernel, dtype=torch.float32)

    def _refresh(self) -> None:
        self.preset = next((name for name, K in PRESETS.items() if K == self.kernel), "custom")
        self.out_shape = list(conv.output_size((self.height, self.width), 3, self.padding, self.stride))
