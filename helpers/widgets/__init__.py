"""Interactive explorers for convolution, channels and pooling.

Three ``anywidget.AnyWidget`` classes. Their arithmetic and drawing run in the
browser (the ``.js`` and ``.css`` files next to this one), so they keep
working in the static HTML book with no kernel, as well as in Jupyter and
Colab. With a kernel, what the reader picks is synced back to the Python
traits, so a later cell can read ``explorer.stride`` or ``explorer.Y`` and
compare against torch.

- ``ConvExplorer``: one input, one kernel (or a pooling window); sliders for
  input size, kernel size, padding, stride and dilation.
- ``ChannelExplorer``: several input and output channels, as in nn.Conv2d.
- ``KernelPlayground``: preset or hand-typed 3x3 kernels on a real photo.

Settings that cannot work raise ``ValueError`` when set from Python; in the
browser they show a message instead of a drawing. Nothing here prints.
"""

from __future__ import annotations

import base64
import math
import pathlib
import re

import anywidget
import numpy as np
import torch
import torch.nn.functional as F
import traitlets as t

from helpers import conv, data

__all__ = ["ConvExplorer", "ChannelExplorer", "KernelPlayground", "bundle"]

_HERE = pathlib.Path(__file__).parent
_CSS = _HERE / "widgets.css"
_IMPORT = re.compile(r'^import \{[^}]*\} from "\./([\w-]+\.js)";\n', re.M)


def bundle(entry: str) -> str:
    """One ES module: `entry` with its relative imports (e.g. ./ui.js) inlined.

    anywidget hands `_esm` to the browser as a blob: URL, from which relative
    imports cannot resolve, so each dependency is pasted in once, before the
    code that uses it.
    """
    done: list[str] = []
    parts: list[str] = []

    def add(name: str) -> None:
        if name in done:
            return
        done.append(name)
        text = (_HERE / name).read_text(encoding="utf-8")
        for dependency in _IMPORT.findall(text):
            add(dependency)
        parts.append(f"// ---- helpers/widgets/{name}\n" + _IMPORT.sub("", text))

    add(entry)
    return "\n".join(parts)


class ExplorerError(t.TraitError, ValueError):
    """A setting the explorer cannot show (a ValueError; a TraitError so traitlets rolls back)."""


def _array(value, ndim: int, name: str, layout: str) -> np.ndarray:
    """A float array of `ndim` dimensions from a tensor, array or nested list."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ExplorerError(f"{name} must be numbers of shape {layout}, got {value!r}") from exc
    if a.ndim != ndim:
        raise ExplorerError(f"{name} must have shape {layout} ({ndim} dimensions), got shape {a.shape}")
    if a.size == 0 or not np.isfinite(a).all():
        raise ExplorerError(f"{name} must be non-empty and finite, got shape {a.shape}")
    if a.shape[-1] != a.shape[-2]:
        raise ExplorerError(f"{name} must be square in its last two axes, got shape {a.shape}")
    return a


class _Nested(t.List):
    """A List trait that also takes a tensor or an array (stored as nested lists)."""

    def validate(self, obj, value):
        if not isinstance(value, list) and hasattr(value, "tolist"):
            value = value.tolist()
        return super().validate(obj, value)


def _in_range(name: str, value: int, limits: dict) -> int:
    lo, hi = limits[name]
    if not lo <= value <= hi:
        raise ExplorerError(f"{name} must be between {lo} and {hi} in this explorer, got {value}")
    return value


def _check_position(widget, value: int) -> int:
    """An output cell counted row by row: 0 <= position < (cells in the output)."""
    cells = len(widget.Y[0]) ** 2 if widget.Y and isinstance(widget.Y[0][0], list) else len(widget.Y) ** 2
    if value < 0 or (widget.Y and not widget._from_browser() and value >= cells):
        raise ExplorerError(f"position must be 0 to {max(cells - 1, 0)} (an output cell, row by row), got {value}")
    return value


class _Explorer(anywidget.AnyWidget):
    """Shared plumbing: the stylesheet, the slider limits and who made a change."""

    _css = _CSS
    LIMITS: dict = {}
    limits = t.Dict().tag(sync=True)
    error = t.Unicode("", help="why the current setting has no output ('' when it has one)").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(limits={k: list(v) for k, v in self.LIMITS.items()}, **kwargs)

    def _from_browser(self) -> bool:
        """True while ipywidgets applies a change sent by a browser view (it locks those traits)."""
        return bool(getattr(self, "_property_lock", None))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_traits)
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------
# ConvExplorer
# --------------------------------------------------------------------------

MODES = ("conv", "max", "avg")


def _setting_problem(n: int, kernel_size: int, padding: int, dilation: int, mode: str) -> str:
    """Why a ConvExplorer setting cannot work ('' when it can), with torch's rules."""
    try:
        conv.output_size(n, kernel_size, padding, 1, dilation)
    except ValueError as exc:
        return str(exc)
    if mode != "conv" and 2 * padding > kernel_size:
        return f"pooling padding must be at most half the window: padding {padding} with window {kernel_size}"
    if mode == "avg" and dilation != 1:
        return "average pooling has no dilation in PyTorch (nn.AvgPool2d); use dilation=1"
    return ""


class ConvExplorer(_Explorer):
    """Slide a kernel or a pooling window over one input and watch every number.

    X (n, n) and K (k, k) are the values to show (tensors, arrays or lists);
    left out, or when a slider changes their size, the grids hold 0, 1, 2, ...
    row by row. mode is 'conv' (cross-correlation), 'max' or 'avg' pooling.
    Y (n', n') is the output as last drawn by a browser view, or computed with
    torch from Python until one has drawn it; None marks a max-pooling window
    that holds only padding (torch gives -inf there).
    """

    _esm = bundle("conv_explorer.js")
    LIMITS = {"n": (1, 10), "kernel_size": (1, 7), "padding": (0, 3), "stride": (1, 4), "dilation": (1, 3)}
    _repr_traits = ("n", "kernel_size", "padding", "stride", "dilation", "mode")

    n = t.Int(3, help="input size: the input is n x n").tag(sync=True)
    kernel_size = t.Int(2).tag(sync=True)
    padding = t.Int(0).tag(sync=True)
    stride = t.Int(1).tag(sync=True)
    dilation = t.Int(1).tag(sync=True)
    mode = t.Unicode("conv", help="'conv', 'max' or 'avg'").tag(sync=True)
    X = _Nested(help="input values (n x n), or [] for 0, 1, 2, ...").tag(sync=True)
    K = _Nested(help="kernel values (k x k), or [] for 0, 1, 2, ...").tag(sync=True)
    position = t.Int(0, help="the output cell being explained, counted row by row").tag(sync=True)
    Y = t.List(help="the output grid").tag(sync=True)

    def __init__(self, X=None, K=None, *, n: int | None = None, kernel_size: int | None = None,
                 padding: int = 0, stride: int = 1, dilation: int = 1, mode: str = "conv"):
        x = _array(X, 2, "X", "(n, n)").tolist() if X is not None else []
        k = _array(K, 2, "K", "(k, k)").tolist() if K is not None else []
        n = (len(x) or 3) if n is None else n
        kernel_size = (len(k) or 2) if kernel_size is None else kernel_size
        if x and len(x) != n:
            raise ExplorerError(f"X is {len(x)}x{len(x)} but n={n}; leave n out to use X's size")
        if k and len(k) != kernel_size:
            raise ExplorerError(f"K is {len(k)}x{len(k)} but kernel_size={kernel_size}; leave kernel_size out")
        if k and mode != "conv":
            raise ExplorerError(f"a {mode}-pooling window has no weights: leave K out, or use mode='conv'")
        super().__init__(n=n, kernel_size=kernel_size, padding=padding, stride=stride,
                         dilation=dilation, mode=mode, X=x, K=k)
        self._refresh()

    @t.validate("n", "kernel_size", "padding", "stride", "dilation", "mode")
    def _check_setting(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        if name == "mode":
            if value not in MODES:
                raise ExplorerError(f"mode must be one of {MODES}, got {value!r}")
        else:
            _in_range(name, value, self.LIMITS)
        setting = self.setting() | {name: value}
        in_range = all(lo <= setting[key] <= hi for key, (lo, hi) in self.LIMITS.items())
        if in_range and not self._from_browser():  # the browser shows its own message instead
            setting.pop("stride")
            problem = _setting_problem(**setting)
            if problem:
                raise ExplorerError(problem)
        return value

    @t.validate("X", "K")
    def _check_values(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        if not value:
            return []
        a = _array(value, 2, name, "(n, n)" if name == "X" else "(k, k)")
        if len(a) > self.LIMITS["n" if name == "X" else "kernel_size"][1]:
            raise ExplorerError(f"{name} is {len(a)}x{len(a)}, too large for this explorer")
        return a.tolist()

    @t.validate("position")
    def _check_position(self, proposal):
        return _check_position(self, proposal["value"])

    @t.observe("n", "kernel_size", "padding", "stride", "dilation", "mode", "X", "K")
    def _on_setting(self, change):
        if not self._from_browser():
            self._refresh()

    def setting(self) -> dict:
        """The current slider values, with torch's argument names."""
        return {"n": self.n, "kernel_size": self.kernel_size, "padding": self.padding,
                "stride": self.stride, "dilation": self.dilation, "mode": self.mode}

    def input_values(self) -> torch.Tensor:
        """The input grid shown (n, n): X when its size is n, else 0, 1, 2, ... row by row."""
        return _values(self.X, self.n)

    def kernel_values(self) -> torch.Tensor:
        """The kernel shown (k, k): K when its size is k, else 0, 1, 2, ... row by row."""
        return _values(self.K, self.kernel_size)

    def torch_output(self) -> torch.Tensor:
        """torch's answer for the grids and setting shown: (n', n') float64.

        F.conv2d for 'conv', F.max_pool2d for 'max', F.avg_pool2d (padding
        counted in the mean) for 'avg'. Raises ValueError if the setting
        cannot work.
        """
        s = self.setting()
        problem = _setting_problem(s["n"], s["kernel_size"], s["padding"], s["dilation"], s["mode"])
        if problem:
            raise ExplorerError(problem)
        x = self.input_values()[None, None]  # (1, 1, n, n)
        k, p, st, d = s["kernel_size"], s["padding"], s["stride"], s["dilation"]
        if s["mode"] == "conv":
            y = F.conv2d(x, self.kernel_values()[None, None], stride=st, padding=p, dilation=d)
        elif s["mode"] == "max":
            y = F.max_pool2d(x, k, stride=st, padding=p, dilation=d)
        else:
            y = F.avg_pool2d(x, k, stride=st, padding=p)
        return y[0, 0]

    def _refresh(self) -> None:
        """Recompute Y and error with torch after a change made from Python."""
        try:
            Y = [[None if math.isinf(v) else v for v in row] for row in self.torch_output().tolist()]
            self.error, self.Y = "", Y
        except ExplorerError as exc:
            self.error, self.Y = str(exc), []
        self.position = min(self.position, max(len(self.Y) ** 2 - 1, 0))


def _values(given: list, size: int) -> torch.Tensor:
    if len(given) == size:
        return torch.tensor(given, dtype=torch.float64)
    return torch.arange(size * size, dtype=torch.float64).reshape(size, size)


# --------------------------------------------------------------------------
# ChannelExplorer
# --------------------------------------------------------------------------

def _seed_channels():
    """The two-channel example (X, K) and K stacked with K+1 and K+2: three output channels."""
    X = torch.stack([torch.arange(9.0).reshape(3, 3), torch.arange(1.0, 10.0).reshape(3, 3)])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    return X, torch.stack([K, K + 1, K + 2])


class ChannelExplorer(_Explorer):
    """A convolution with several input and output channels, one window at a time.

    X (C_in, n, n), K (C_out, C_in, k, k) or (C_in, k, k) for one output
    channel, bias (C_out,) or None for zeros. Left out, X and K are the
    two-channel example with K stacked as K, K+1, K+2 (three output channels).
    Y (C_out, n', n') is the output as last drawn (torch's until a browser
    view has drawn it).
    """

    _esm = bundle("channel_explorer.js")
    LIMITS = {"padding": (0, 2), "stride": (1, 3), "channels": (1, 4), "n": (1, 8), "kernel_size": (1, 5)}
    _repr_traits = ("padding", "stride", "channel", "position", "shape")

    X = _Nested(help="(C_in, n, n)").tag(sync=True)
    K = _Nested(help="(C_out, C_in, k, k)").tag(sync=True)
    bias = _Nested(help="(C_out,)").tag(sync=True)
    padding = t.Int(0).tag(sync=True)
    stride = t.Int(1).tag(sync=True)
    channel = t.Int(0, help="the output channel being explained").tag(sync=True)
    position = t.Int(0, help="the output cell being explained, counted row by row").tag(sync=True)
    Y = t.List().tag(sync=True)

    def __init__(self, X=None, K=None, bias=None, *, padding: int = 0, stride: int = 1,
                 channel: int = 0, position: int = 0):
        if X is None and K is None:
            X, K = _seed_channels()
        x = _array(X, 3, "X", "(C_in, n, n)")
        k = _array(K, 4 if np.ndim(K) == 4 else 3, "K", "(C_out, C_in, k, k)")
        k = k if k.ndim == 4 else k[None]  # one output channel
        b = np.zeros(len(k)) if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
        lo_c, hi_c = self.LIMITS["channels"]
        for what, count in (("input channels", len(x)), ("output channels", len(k))):
            if not lo_c <= count <= hi_c:
                raise ExplorerError(f"{what} must number {lo_c} to {hi_c} here, got {count}")
        if k.shape[1] != len(x):
            raise ExplorerError(f"X has {len(x)} input channels but K has {k.shape[1]} "
                                f"(X shape {x.shape}, K shape {k.shape})")
        if len(b) != len(k) or not np.isfinite(b).all():
            raise ExplorerError(f"bias must be {len(k)} finite numbers (one per output channel), got {b.shape}")
        _in_range("n", x.shape[-1], self.LIMITS)
        _in_range("kernel_size", k.shape[-1], self.LIMITS)
        super().__init__(X=x.tolist(), K=k.tolist(), bias=b.tolist(), padding=padding, stride=stride,
                         channel=channel, position=position)
        self._refresh()
        _check_position(self, position)  # now that the output size is known

    @property
    def shape(self) -> tuple:
        """(C_out, C_in, n, k): output and input channels, input and kernel size."""
        return (len(self.K), len(self.X), len(self.X[0]), len(self.K[0][0]))

    @t.validate("padding", "stride")
    def _check_setting(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        _in_range(name, value, self.LIMITS)
        if name == "padding" and not self._from_browser():
            try:
                conv.output_size(len(self.X[0]), len(self.K[0][0]), value)
            except ValueError as exc:
                raise ExplorerError(str(exc)) from None
        return value

    @t.validate("position")
    def _check_position(self, proposal):
        return _check_position(self, proposal["value"])

    @t.validate("channel")
    def _check_channel(self, proposal):
        if self.K and not 0 <= proposal["value"] < len(self.K):
            raise ExplorerError(f"channel must be 0 to {len(self.K) - 1}, got {proposal['value']}")
        return proposal["value"]

    @t.observe("padding", "stride")
    def _on_setting(self, change):
        if not self._from_browser():
            self._refresh()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(X, K, bias) as float64 tensors: (C_in, n, n), (C_out, C_in, k, k), (C_out,)."""
        return tuple(torch.tensor(v, dtype=torch.float64) for v in (self.X, self.K, self.bias))

    def _refresh(self) -> None:
        X, K, b = self.tensors()
        try:
            size = conv.output_size(X.shape[-1], K.shape[-1], self.padding, self.stride)
        except ValueError as exc:
            self.error, self.Y = str(exc), []
            return
        self.error = ""
        self.Y = F.conv2d(X[None], K, b, stride=self.stride, padding=self.padding)[0].tolist()
        self.position = min(self.position, size * size - 1)


# --------------------------------------------------------------------------
# KernelPlayground
# --------------------------------------------------------------------------

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
