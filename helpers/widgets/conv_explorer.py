"""ConvExplorer: one input, one kernel or pooling window, every number shown.

The browser side is conv_explorer.js; the arithmetic it runs is conv_math.js.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import traitlets as t

from helpers import conv
from helpers.widgets._base import (ExplorerError, _array, _check_position, _Explorer, _in_range, _Nested,
                                   _sized_grid, bundle, grid_values)

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
    torch_output() is torch's answer for the setting shown. Y and error are
    what a browser view drew: written by the view alone, [] and '' until one
    has drawn, and in a notebook only once the view's message has come back
    (not within the cell that changed a setting).
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
    Y = t.List(read_only=True, help="the output (n', n') a browser view drew; None where it shows −∞").tag(sync=True)
    error = t.Unicode("", read_only=True, help="why the view drew no output, in its words ('' if it drew one)").tag(sync=True)

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
        if in_range and not self._from_view:  # the view explains it instead
            setting.pop("stride")
            problem = _setting_problem(**setting)
            if problem:
                raise ExplorerError(problem)
        return value

    @t.validate("X", "K")
    def _check_values(self, proposal):
        name = proposal["trait"].name
        grid = _sized_grid(self, name, proposal["value"], "n" if name == "X" else "kernel_size")
        if grid and name == "K" and self.mode != "conv":
            raise ExplorerError(f"a {self.mode}-pooling window has no weights: set mode='conv' first")
        return grid

    @t.validate("position")
    def _check_position(self, proposal):
        return _check_position(self, proposal["value"])

    @t.observe("n", "kernel_size", "padding", "stride", "dilation", "mode")
    def _on_setting(self, change):
        side = self._output_side()
        if side and self.position >= side * side:  # a smaller output: explain its last cell
            self.position = side * side - 1

    def setting(self) -> dict:
        """The current slider values, with torch's argument names."""
        return {"n": self.n, "kernel_size": self.kernel_size, "padding": self.padding,
                "stride": self.stride, "dilation": self.dilation, "mode": self.mode}

    def input_values(self) -> torch.Tensor:
        """The input grid shown (n, n): X when its size is n, else 0, 1, 2, ... row by row."""
        return grid_values(self.X, self.n)

    def kernel_values(self) -> torch.Tensor:
        """The kernel shown (k, k): K when its size is k, else 0, 1, 2, ... row by row."""
        return grid_values(self.K, self.kernel_size)

    def _output_side(self) -> int:
        """n' for the current setting, or 0 when it has no output."""
        s = self.setting()
        if _setting_problem(s["n"], s["kernel_size"], s["padding"], s["dilation"], s["mode"]):
            return 0
        return conv.output_size(s["n"], s["kernel_size"], s["padding"], s["stride"], s["dilation"])

    def drawn_output(self) -> torch.Tensor | None:
        """Y as a float64 tensor (n', n'), -inf for None; None when no view has drawn an output."""
        if not self.Y:
            return None
        return torch.tensor([[-math.inf if v is None else v for v in row] for row in self.Y], dtype=torch.float64)

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

