"""TransposedExplorer: a transposed convolution as a scatter of kernel copies.

The browser side is transposed_explorer.js; the arithmetic it runs is
conv_math.js (``transposed``, ``scatterCells``, ``gatherCells``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import traitlets as t

from helpers import conv
from helpers.widgets._base import ExplorerError, _array, _Explorer, _in_range, _Nested, _sized_grid, bundle, grid_values

SIDES = ("input", "output")


def _setting_problem(n: int, kernel_size: int, stride: int, padding: int, output_padding: int) -> str:
    """Why a setting cannot work ('' when it can), with torch's rules (dilation 1)."""
    try:
        conv.transposed_output_size(n, kernel_size, stride, padding, output_padding)
    except ValueError as exc:
        return str(exc)
    return ""


class TransposedExplorer(_Explorer):
    """A transposed convolution of one input with one kernel, every number shown.

    X (n, n) and K (k, k) are the values (tensors, arrays or lists); left out,
    or when a slider changes their size, the grids hold 0, 1, 2, ... row by
    row, so the defaults are the chapter's example (input and kernel 0, 1, 2,
    3). The picked cell is `position` (row by row) of the grid `side`
    ('input': where its kernel copy lands; 'output': which inputs reach it).
    torch_output() is F.conv_transpose2d's answer for the setting shown; Y and
    error are what a browser view drew: written by the view alone, [] and ''
    until one has drawn.
    """

    _esm = bundle("transposed_explorer.js")
    LIMITS = {"n": (1, 5), "kernel_size": (1, 4), "stride": (1, 3), "padding": (0, 2), "output_padding": (0, 2)}
    _repr_traits = ("n", "kernel_size", "stride", "padding", "output_padding", "side", "position")

    n = t.Int(2, help="input size: the input is n x n").tag(sync=True)
    kernel_size = t.Int(2).tag(sync=True)
    stride = t.Int(1).tag(sync=True)
    padding = t.Int(0).tag(sync=True)
    output_padding = t.Int(0).tag(sync=True)
    X = _Nested(help="input values (n x n), or [] for 0, 1, 2, ...").tag(sync=True)
    K = _Nested(help="kernel values (k x k), or [] for 0, 1, 2, ...").tag(sync=True)
    side = t.Unicode("input", help="the grid of the picked cell: 'input' or 'output'").tag(sync=True)
    position = t.Int(0, help="the picked cell of that grid, counted row by row").tag(sync=True)
    Y = t.List(read_only=True, help="the output a browser view drew").tag(sync=True)
    error = t.Unicode("", read_only=True, help="why the view drew no output, in its words").tag(sync=True)

    def __init__(self, X=None, K=None, *, n: int | None = None, kernel_size: int | None = None,
                 stride: int = 1, padding: int = 0, output_padding: int = 0,
                 side: str = "input", position: int = 0):
        x = _array(X, 2, "X", "(n, n)").tolist() if X is not None else []
        k = _array(K, 2, "K", "(k, k)").tolist() if K is not None else []
        n = (len(x) or 2) if n is None else n
        kernel_size = (len(k) or 2) if kernel_size is None else kernel_size
        if x and len(x) != n:
            raise ExplorerError(f"X is {len(x)}x{len(x)} but n={n}; leave n out to use X's size")
        if k and len(k) != kernel_size:
            raise ExplorerError(f"K is {len(k)}x{len(k)} but kernel_size={kernel_size}; leave kernel_size out")
        super().__init__(n=n, kernel_size=kernel_size, stride=stride, padding=padding,
                         output_padding=output_padding, X=x, K=k, side=side, position=position)

    @t.validate("n", "kernel_size", "stride", "padding", "output_padding")
    def _check_setting(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        _in_range(name, value, self.LIMITS)
        setting = self.setting() | {name: value}
        in_range = all(lo <= setting[key] <= hi for key, (lo, hi) in self.LIMITS.items())
        if in_range and not self._from_view:  # a view explains it instead
            problem = _setting_problem(**setting)
            if problem:
                raise ExplorerError(problem)
        return value

    @t.validate("X", "K")
    def _check_values(self, proposal):
        name = proposal["trait"].name
        return _sized_grid(self, name, proposal["value"], "n" if name == "X" else "kernel_size")

    @t.validate("side")
    def _check_side(self, proposal):
        if proposal["value"] not in SIDES:
            raise ExplorerError(f"side must be one of {SIDES}, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("position")
    def _check_position(self, proposal):
        cells = self._cells(self.side)
        value = proposal["value"]
        if value < 0 or (cells and value >= cells):
            raise ExplorerError(f"position must be 0 to {max(cells - 1, 0)} (a cell of the {self.side} grid, "
                                f"row by row), got {value}")
        return value

    @t.observe("n", "kernel_size", "stride", "padding", "output_padding", "side")
    def _on_setting(self, change):
        cells = self._cells(self.side)
        if cells and self.position >= cells:  # a smaller grid: pick its last cell
            self.position = cells - 1

    def setting(self) -> dict:
        """The current slider values, with torch's argument names."""
        return {"n": self.n, "kernel_size": self.kernel_size, "stride": self.stride,
                "padding": self.padding, "output_padding": self.output_padding}

    def _output_side(self) -> int:
        """The output's size for the current setting, or 0 when it has none."""
        s = self.setting()
        return 0 if _setting_problem(**s) else conv.transposed_output_size(**s)

    def _cells(self, side: str) -> int:
        return self.n ** 2 if side == "input" else self._output_side() ** 2

    def input_values(self) -> torch.Tensor:
        """The input grid shown (n, n): X when its size is n, else 0, 1, 2, ... row by row."""
        return grid_values(self.X, self.n)

    def kernel_values(self) -> torch.Tensor:
        """The kernel shown (k, k): K when its size is k, else 0, 1, 2, ... row by row."""
        return grid_values(self.K, self.kernel_size)

    def drawn_output(self) -> torch.Tensor | None:
        """Y as a float64 tensor; None when no view has drawn an output."""
        return torch.tensor(self.Y, dtype=torch.float64) if self.Y else None

    def torch_output(self) -> torch.Tensor:
        """F.conv_transpose2d's answer for the grids and setting shown: (size, size) float64."""
        s = self.setting()
        problem = _setting_problem(**s)
        if problem:
            raise ExplorerError(problem)
        y = F.conv_transpose2d(self.input_values()[None, None], self.kernel_values()[None, None],
                               stride=s["stride"], padding=s["padding"], output_padding=s["output_padding"])
        return y[0, 0]

