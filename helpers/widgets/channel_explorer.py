"""ChannelExplorer: several input and output channels, one window at a time.

The browser side is channel_explorer.js; the arithmetic it runs is conv_math.js.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import traitlets as t

from helpers import conv
from helpers.widgets._base import ExplorerError, _array, _check_position, _Explorer, _Nested, _in_range, bundle

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
    torch_output() is torch's answer (C_out, n', n'). Y and error are what a
    browser view drew: written by the view alone, [] and '' until one has drawn.
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
    Y = t.List(read_only=True, help="the output (C_out, n', n') a browser view drew").tag(sync=True)
    error = t.Unicode("", read_only=True, help="why the view drew no output, in its words ('' if it drew one)").tag(sync=True)

    def __init__(self, X=None, K=None, bias=None, *, padding: int = 0, stride: int = 1,
                 channel: int = 0, position: int = 0):
        if X is None and K is None:
            X, K = _seed_channels()
        x, k, b = self._checked(X, K, bias)
        super().__init__(X=x.tolist(), K=k.tolist(), bias=b.tolist(), padding=padding, stride=stride,
                         channel=channel, position=position)

    @classmethod
    def _checked(cls, X, K, bias) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, K and bias as arrays (C_in, n, n), (C_out, C_in, k, k), (C_out,), or ExplorerError."""
        x = _array(X, 3, "X", "(C_in, n, n)")
        k = _array(K, 4 if np.ndim(K) == 4 else 3, "K", "(C_out, C_in, k, k)")
        k = k if k.ndim == 4 else k[None]  # one output channel
        try:
            b = np.zeros(len(k)) if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ExplorerError(f"bias must be {len(k)} finite numbers, got {bias!r}") from exc
        lo_c, hi_c = cls.LIMITS["channels"]
        for what, count in (("input channels", len(x)), ("output channels", len(k))):
            if not lo_c <= count <= hi_c:
                raise ExplorerError(f"{what} must number {lo_c} to {hi_c} here, got {count}")
        if k.shape[1] != len(x):
            raise ExplorerError(f"X has {len(x)} input channels but K has {k.shape[1]} "
                                f"(X shape {x.shape}, K shape {k.shape})")
        if len(b) != len(k) or not np.isfinite(b).all():
            raise ExplorerError(f"bias must be {len(k)} finite numbers (one per output channel), got {b.shape}")
        _in_range("n", x.shape[-1], cls.LIMITS)
        _in_range("kernel_size", k.shape[-1], cls.LIMITS)
        return x, k, b

    @t.validate("X", "K", "bias")
    def _check_values(self, proposal):
        """An assignment from Python is checked against the other two, as the constructor does.
        To change shapes together: `with w.hold_trait_notifications(): w.X, w.K = X, K`."""
        name = proposal["trait"].name
        values = {"X": self.X, "K": self.K, "bias": self.bias, name: proposal["value"]}
        try:
            x, k, b = self._checked(values["X"], values["K"], values["bias"])
        except ExplorerError as exc:
            raise ExplorerError(f"{exc} (assigning {name}; to change X, K and bias together, set "
                                f"them inside `with w.hold_trait_notifications():`)") from None
        return {"X": x, "K": k, "bias": b}[name].tolist()

    @property
    def shape(self) -> tuple:
        """(C_out, C_in, n, k): output and input channels, input and kernel size."""
        return (len(self.K), len(self.X), len(self.X[0]), len(self.K[0][0]))

    @t.validate("padding", "stride")
    def _check_setting(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        _in_range(name, value, self.LIMITS)
        if name == "padding" and not self._from_view:  # the view explains it instead
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

    @t.observe("padding", "stride", "X", "K")
    def _on_setting(self, change):
        """Fewer channels or a smaller output: explain the last one."""
        self.channel = min(self.channel, len(self.K) - 1)
        side = self._output_side()
        if side and self.position >= side * side:
            self.position = side * side - 1

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(X, K, bias) as float64 tensors: (C_in, n, n), (C_out, C_in, k, k), (C_out,)."""
        return tuple(torch.tensor(v, dtype=torch.float64) for v in (self.X, self.K, self.bias))

    def _output_side(self) -> int:
        """n' for the current setting, or 0 when it has no output."""
        if not (self.X and self.K):  # while the constructor sets them
            return 0
        try:
            return conv.output_size(len(self.X[0]), len(self.K[0][0]), self.padding, self.stride)
        except ValueError:
            return 0

    def drawn_output(self) -> torch.Tensor | None:
        """Y as a float64 tensor (C_out, n', n'); None when no view has drawn an output."""
        return torch.tensor(self.Y, dtype=torch.float64) if self.Y else None

    def torch_output(self) -> torch.Tensor:
        """torch's answer for the values and setting shown: F.conv2d, (C_out, n', n') float64.

        Raises ValueError if the kernel does not fit the padded input.
        """
        X, K, b = self.tensors()
        try:
            conv.output_size(X.shape[-1], K.shape[-1], self.padding, self.stride)
        except ValueError as exc:
            raise ExplorerError(str(exc)) from None
        return F.conv2d(X[None], K, b, stride=self.stride, padding=self.padding)[0]
