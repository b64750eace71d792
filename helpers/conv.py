"""Two-dimensional convolution and pooling written from scratch.

Every function here is checked against ``torch.nn.functional`` in
``tests/test_conv.py``. The small functions (``corr2d`` and friends) follow
the chapters one idea at a time; ``conv2d`` and ``pool2d`` are the general,
vectorized versions the later chapters use.

Shapes follow PyTorch: images are ``(N, C, H, W)``, kernels
``(C_out, C_in, kh, kw)``. Bad input raises ``ValueError`` naming the
problem and the numbers involved.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers import checks

IntOrPair = int | tuple[int, int]

__all__ = [
    "output_size",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1",
    "conv2d",
    "pool2d",
    "im2col",
    "conv2d_im2col",
    "transposed_output_size",
    "conv_transpose2d",
    "Conv2D",
]


# --------------------------------------------------------------------------
# Argument checks shared by every function below.
# --------------------------------------------------------------------------

def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as a pair, each checked to be an int >= minimum."""
    values = value if isinstance(value, (tuple, list)) and len(value) == 2 else (value, value)
    try:
        return tuple(checks.as_int(v, name, low=minimum) for v in values)
    except ValueError:
        raise ValueError(f"{name} must be an int or a pair of ints, each >= {minimum}, "
                         f"got {value!r}") from None


_NARROW = (torch.bool, torch.uint8, torch.int8, torch.int16)


def _check_tensor(X, ndim: int, name: str, layout: str, func: str) -> None:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{func} expects {name} to be a torch.Tensor, got {type(X).__name__}")
    if X.dtype in _NARROW:   # 40 * 40 in uint8 is 64: sums of products wrap around silently
        raise TypeError(f"{func}: {name} is {X.dtype}, too narrow for sums of products (they wrap "
                        f"around); convert it first, e.g. {name}.float()")
    if X.dim() != ndim:
        hint = ""
        if name == "X" and X.dim() == ndim - 1:
            hint = "; add a leading axis with X[None] (or X.unsqueeze(0))"
        raise ValueError(
            f"{func} expects {name} of shape {layout} ({ndim} dimensions), "
            f"got shape {tuple(X.shape)} ({X.dim()} dimensions){hint}"
        )


def _check_kernel(K: torch.Tensor, name: str, func: str) -> None:
    """A kernel needs at least one row, one column (and one output channel), as in torch."""
    kh, kw = K.shape[-2:]
    if kh < 1 or kw < 1:
        raise ValueError(f"{func}: {name} must be at least 1x1, got a {kh}x{kw} kernel "
                         f"(shape {tuple(K.shape)})")
    if K.dim() == 4 and K.shape[0] < 1:
        raise ValueError(f"{func}: {name} has no output channels (shape {tuple(K.shape)}); "
                         f"it needs at least one kernel")


def _check_some_channels(X: torch.Tensor, func: str, axis: int = 0) -> None:
    # F.conv2d answers C_in = 0 with an empty tensor that has no output channels either,
    # which is no result at all; say so instead.
    if X.shape[axis] == 0:
        raise ValueError(f"{func}: X has no input channels (shape {tuple(X.shape)}); "
                         f"a convolution needs at least one")


def _same_dtype(func: str, **tensors) -> None:
    """torch's convolutions refuse to mix dtypes; say which arguments differ."""
    given = {name: t for name, t in tensors.items() if t is not None}
    if len({t.dtype for t in given.values()}) > 1:
        listed = ", ".join(f"{name} is {t.dtype}" for name, t in given.items())
        first = next(iter(given))
        raise ValueError(f"{func}: the tensors must share one dtype, but {listed}; convert them, "
                         f"e.g. with .to({first}.dtype)")


def _extent(kernel_size: int, dilation: int) -> int:
    """How many input rows (or columns) one window spans."""
    return dilation * (kernel_size - 1) + 1


def _out_1d(n: int, k: int, p: int, s: int, d: int, what: str = "kernel") -> int:
    span = _extent(k, d)
    if span > n + 2 * p:
        spread = f" with dilation {d} spans {span} and" if d > 1 else ""
        raise ValueError(
            f"{what} {k}{spread} does not fit an input of size {n} with padding {p} "
            f"(padded size {n + 2 * p})"
        )
    return (n + 2 * p - span) // s + 1


def _out_2d(H: int, W: int, kernel, padding, stride, dilation, what: str = "kernel"):
    """Output (H', W'), or a ValueError quoting the 2-D sizes when it does not fit."""
    (kh, kw), (ph, pw), (sh, sw), (dh, dw) = kernel, padding, stride, dilation
    eh, ew = _extent(kh, dh), _extent(kw, dw)
    if eh > H + 2 * ph or ew > W + 2 * pw:
        spread = f" (spanning {eh}x{ew} with dilation {dh}x{dw})" if (dh, dw) != (1, 1) else ""
        pad = f"{ph}" if ph == pw else f"({ph}, {pw})"
        raise ValueError(
            f"{what} {kh}x{kw}{spread} does not fit a {H}x{W} input with padding {pad} "
            f"(padded input {H + 2 * ph}x{W + 2 * pw})"
        )
    return (H + 2 * ph - eh) // sh + 1, (W + 2 * pw - ew) // sw + 1


def _windows(Xp: torch.Tensor, kernel, stride, dilation, out) -> torch.Tensor:
    """View every window of a padded (N, C, H, W) tensor: (N, C, H', W', kh, kw).

    No data is copied: the view reuses Xp's memory with strides that step
    `stride` elements between windows and `dilation` elements inside one.
    """
    Xp = Xp.contiguous()
    sN, sC, sH, sW = Xp.stride()
    shape = (Xp.shape[0], Xp.shape[1], out[0], out[1], kernel[0], kernel[1])
    strides = (sN, sC, sH * stride[0], sW * stride[1], sH * dilation[0], sW * dilation[1])
    return Xp.as_strided(shape, strides, Xp.storage_offset())


# --------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------

def output_size(
    n: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
) -> int | tuple[int, int]:
    """Output length of a convolution or pooling window along one axis (or two).

    floor((n + 2p - d(k-1) - 1) / s) + 1. Ints give an int; if any argument
    is a pair the result is a pair (height, width). Raises ValueError if the
    window does not fit the padded input.
    """
    two_d = any(isinstance(a, (tuple, list)) for a in (n, kernel_size, padding, stride, dilation))
    ns = _pair(n, "n", 1)
    ks = _pair(kernel_size, "kernel_size", 1)
    ps = _pair(padding, "padding", 0)
    ss = _pair(stride, "stride", 1)
    ds = _pair(dilation, "dilation", 1)
    if not two_d:
        return _out_1d(ns[0], ks[0], ps[0], ss[0], ds[0])
    return _out_2d(ns[0], ns[1], ks, ps, ss, ds)


# --------------------------------------------------------------------------
# The chapter-by-chapter functions
# --------------------------------------------------------------------------

def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2-D cross-correlation of X (H, W) with kernel K (kh, kw) -> (H-kh+1, W-kw+1)."""
    _check_tensor(X, 2, "X", "(H, W)", "corr2d")
    _check_tensor(K, 2, "K", "(kh, kw)", "corr2d")
    _check_kernel(K, "K", "corr2d")
    _same_dtype("corr2d", X=X, K=K)
    kh, kw = K.shape
    _out_2d(*X.shape, (kh, kw), (0, 0), (1, 1), (1, 1))
    windows = X.unfold(0, kh, 1).unfold(1, kw, 1)  # (H', W', kh, kw)
    return (windows * K).sum(dim=(-2, -1))


def _check_channels(X: torch.Tensor, K: torch.Tensor, func: str, k_axis: int) -> None:
    if X.shape[0] != K.shape[k_axis]:
        raise ValueError(
            f"{func}: X has {X.shape[0]} input channels but K has {K.shape[k_axis]} "
            f"(X shape {tuple(X.shape)}, K shape {tuple(K.shape)})"
        )


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Cross-correlate each channel of X (C, H, W) with its slice of K (C, kh, kw), then sum -> (H', W')."""
    _check_tensor(X, 3, "X", "(C, H, W)", "corr2d_multi_in")
    _check_tensor(K, 3, "K", "(C, kh, kw)", "corr2d_multi_in")
    _check_channels(X, K, "corr2d_multi_in", 0)
    _check_kernel(K, "K", "corr2d_multi_in")
    _same_dtype("corr2d_multi_in", X=X, K=K)
    _check_some_channels(X, "corr2d_multi_in")
    return torch.stack([corr2d(x, k) for x, k in zip(X, K)]).sum(dim=0)


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """One multi-input correlation per output channel: X (C, H, W), K (C_out, C, kh, kw) -> (C_out, H', W')."""
    _check_tensor(X, 3, "X", "(C, H, W)", "corr2d_multi_in_out")
    _check_tensor(K, 4, "K", "(C_out, C, kh, kw)", "corr2d_multi_in_out")
    _check_channels(X, K, "corr2d_multi_in_out", 1)
    _check_kernel(K, "K", "corr2d_multi_in_out")
    _check_some_channels(X, "corr2d_multi_in_out")
    return torch.stack([corr2d_multi_in(X, k) for k in K])


def corr2d_multi_in_out_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution as one matrix product: X (C, H, W), K (C_out, C, 1, 1) -> (C_out, H, W)."""
    _check_tensor(X, 3, "X", "(C, H, W)", "corr2d_multi_in_out_1x1")
    _check_tensor(K, 4, "K", "(C_out, C, 1, 1)", "corr2d_multi_in_out_1x1")
    _check_channels(X, K, "corr2d_multi_in_out_1x1", 1)
    _check_kernel(K, "K", "corr2d_multi_in_out_1x1")
    _check_some_channels(X, "corr2d_multi_in_out_1x1")
    _same_dtype("corr2d_multi_in_out_1x1", X=X, K=K)
    if K.shape[2:] != (1, 1):
        raise ValueError(
            f"corr2d_multi_in_out_1x1 needs a 1x1 kernel, got {K.shape[2]}x{K.shape[3]}"
        )
    c_in, h, w = X.shape
    c_out = K.shape[0]
    Y = K.reshape(c_out, c_in) @ X.reshape(c_in, h * w)  # (C_out, C) @ (C, H*W)
    return Y.reshape(c_out, h, w)


# --------------------------------------------------------------------------
# The general versions
# --------------------------------------------------------------------------

def conv2d(
    X: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> torch.Tensor:
    """Batched 2-D convolution (cross-correlation), equal to F.conv2d.

    X (N, C_in, H, W), weight (C_out, C_in, kh, kw), bias (C_out,) or None
    -> (N, C_out, H', W'). Vectorized: one strided view of all windows and
    one tensor contraction, no Python loop over output positions.
    Differentiable with respect to X, weight and bias.
    """
    _check_tensor(X, 4, "X", "(N, C, H, W)", "conv2d")
    _check_tensor(weight, 4, "weight", "(C_out, C_in, kh, kw)", "conv2d")
    if X.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: X has {X.shape[1]} input channels but weight expects {weight.shape[1]} "
            f"(X shape {tuple(X.shape)}, weight shape {tuple(weight.shape)})"
        )
    _check_kernel(weight, "weight", "conv2d")
    _check_some_channels(X, "conv2d", axis=1)
    if bias is not None:
        _check_tensor(bias, 1, "bias", "(C_out,)", "conv2d")
    _same_dtype("conv2d", X=X, weight=weight, bias=bias)
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"conv2d: bias must have shape ({weight.shape[0]},) to match weight's "
            f"{weight.shape[0]} output channels, got {tuple(bias.shape)}"
        )
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    kernel = tuple(weight.shape[2:])
    out = _out_2d(X.shape[2], X.shape[3], kernel, padding, stride, dilation)

    Xp = F.pad(X, (padding[1], padding[1], padding[0], padding[0]))  # zeros around H and W
    windows = _windows(Xp, kernel, stride, dilation, out)  # (N, C_in, H', W', kh, kw)
    Y = torch.einsum("nchwij,ocij->nohw", windows, weight)  # (N, C_out, H', W')
    if bias is not None:
        Y = Y + bias.view(1, -1, 1, 1)
    return Y


def pool2d(
    X: torch.Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    mode: str = "max",
) -> torch.Tensor:
    """Max or average pooling, equal to F.max_pool2d / F.avg_pool2d.

    X is (H, W), (C, H, W) or (N, C, H, W); each channel is pooled on its
    own, so the result has the same leading axes and (H', W') last. The
    stride defaults to the window size, as in torch. Average pooling counts
    padded zeros in the mean (torch's count_include_pad=True).
    """
    checks.one_of(mode, "pool2d's mode", ("max", "avg"))
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"pool2d expects X to be a torch.Tensor, got {type(X).__name__}")
    if X.dim() not in (2, 3, 4):
        raise ValueError(
            f"pool2d expects X of shape (H, W), (C, H, W) or (N, C, H, W), "
            f"got shape {tuple(X.shape)} ({X.dim()} dimensions)"
        )
    if not X.is_floating_point():
        raise ValueError(f"pool2d needs a floating-point tensor, got {X.dtype}; try X.float()")
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    for p, k in zip(padding, kernel):
        if 2 * p > k:  # the same rule as torch: no window may be mostly padding
            raise ValueError(
                f"pool2d padding must be at most half the window: padding {p} with window {k}"
            )
    empty = [axis for axis, size in zip("NCHW"[4 - X.dim():], X.shape) if size == 0]
    if empty and empty != ["N"]:  # torch pools a batch of 0 images, but not empty images
        raise ValueError(f"pool2d got an empty X of shape {tuple(X.shape)}: "
                         f"{', '.join(empty)} must be at least 1")
    lead = X.shape[:-2]
    X4 = X.reshape(lead.numel(), 1, *X.shape[-2:])  # every channel becomes its own image
    out = _out_2d(X.shape[-2], X.shape[-1], kernel, padding, stride, (1, 1), what="window")

    fill = float("-inf") if mode == "max" else 0.0  # padding never wins a max
    Xp = F.pad(X4, (padding[1], padding[1], padding[0], padding[0]), value=fill)
    windows = _windows(Xp, kernel, stride, (1, 1), out)  # (N*C, 1, H', W', kh, kw)
    if mode == "max":
        Y = windows.amax(dim=(-2, -1))
    else:
        Y = windows.mean(dim=(-2, -1))
    return Y.reshape(*lead, *out)


# --------------------------------------------------------------------------
# How a convolution is trained and computed (chapter 10)
# --------------------------------------------------------------------------

def im2col(X: torch.Tensor, kernel_size: IntOrPair, stride: IntOrPair = 1,
           padding: IntOrPair = 0, dilation: IntOrPair = 1) -> torch.Tensor:
    """Every window of X (N, C, H, W) as a column: (N, C*kh*kw, H'*W'), equal to F.unfold.

    Row c*kh*kw + i*kw + j of column h*W' + w holds X[n, c] at window
    position (h, w), kernel tap (i, j). Unlike the strided view in conv2d,
    this copies: the matrix holds about kh*kw/(sh*sw) times as many values
    as the input.
    """
    _check_tensor(X, 4, "X", "(N, C, H, W)", "im2col")
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    out = _out_2d(X.shape[2], X.shape[3], kernel, padding, stride, dilation)
    Xp = F.pad(X, (padding[1], padding[1], padding[0], padding[0]))
    windows = _windows(Xp, kernel, stride, dilation, out)  # (N, C, H', W', kh, kw)
    N, C = X.shape[:2]
    # (N, C, kh, kw, H', W') -> (N, C*kh*kw, H'*W'): reshape copies the strided view
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kernel[0] * kernel[1], out[0] * out[1])


def conv2d_im2col(X: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  stride: IntOrPair = 1, padding: IntOrPair = 0,
                  dilation: IntOrPair = 1) -> torch.Tensor:
    """conv2d as one matrix product: (C_out, C_in*kh*kw) @ im2col(X), then reshape."""
    _check_tensor(weight, 4, "weight", "(C_out, C_in, kh, kw)", "conv2d_im2col")
    _check_tensor(X, 4, "X", "(N, C, H, W)", "conv2d_im2col")
    if X.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d_im2col: X has {X.shape[1]} input channels but weight expects "
                         f"{weight.shape[1]} (X shape {tuple(X.shape)}, weight shape {tuple(weight.shape)})")
    _check_kernel(weight, "weight", "conv2d_im2col")
    _same_dtype("conv2d_im2col", X=X, weight=weight, bias=bias)
    kernel = tuple(weight.shape[2:])
    H2, W2 = _out_2d(X.shape[2], X.shape[3], kernel, _pair(padding, "padding", 0),
                     _pair(stride, "stride", 1), _pair(dilation, "dilation", 1))
    cols = im2col(X, kernel, stride, padding, dilation)          # (N, C_in*kh*kw, H'*W')
    Y = weight.reshape(weight.shape[0], -1) @ cols                # (N, C_out, H'*W')
    if bias is not None:
        Y = Y + bias.view(1, -1, 1)
    return Y.reshape(X.shape[0], weight.shape[0], H2, W2)


def transposed_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0,
                           output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis.

    (n - 1)s - 2p + d(k - 1) + output_padding + 1: the input length of a
    convolution with the same settings whose output length is n. The
    convolution's floor maps up to s input lengths to one n; output_padding
    (0 to s - 1, or below d, whichever is larger) picks which of them.
    """
    n = _pair(n, "n", 1)[0]
    k = _pair(kernel_size, "kernel_size", 1)[0]
    s = _pair(stride, "stride", 1)[0]
    p = _pair(padding, "padding", 0)[0]
    d = _pair(dilation, "dilation", 1)[0]
    op = _pair(output_padding, "output_padding", 0)[0]
    if op >= max(s, d):
        raise ValueError(f"output_padding must be smaller than the stride or the dilation "
                         f"(as in torch): got output_padding {op} with stride {s}, dilation {d}")
    size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if size < 1:
        raise ValueError(f"a transposed convolution with n {n}, kernel {k}, stride {s}, padding {p}, "
                         f"dilation {d} and output_padding {op} has output size {size}: the padding "
                         f"crops away everything; use less padding")
    return size


def conv_transpose2d(X: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     stride: IntOrPair = 1, padding: IntOrPair = 0,
                     output_padding: IntOrPair = 0, dilation: IntOrPair = 1) -> torch.Tensor:
    """Transposed convolution, equal to F.conv_transpose2d, written as a scatter.

    X (N, C_in, H, W), weight (C_in, C_out, kh, kw) (torch's layout for
    transposed convolutions), bias (C_out,) or None. Every input value adds
    a scaled copy of its kernel to the output, at (h*s, w*s) in a grid that
    is then cropped by `padding` on each side (and extended by
    `output_padding` on the bottom and right).
    """
    _check_tensor(X, 4, "X", "(N, C_in, H, W)", "conv_transpose2d")
    _check_tensor(weight, 4, "weight", "(C_in, C_out, kh, kw)", "conv_transpose2d")
    if X.shape[1] != weight.shape[0]:
        raise ValueError(f"conv_transpose2d: X has {X.shape[1]} input channels but weight (C_in, C_out, "
                         f"kh, kw) expects {weight.shape[0]} (X shape {tuple(X.shape)}, weight shape "
                         f"{tuple(weight.shape)}); a transposed convolution's weight has C_in first")
    _check_kernel(weight, "weight", "conv_transpose2d")
    _check_some_channels(X, "conv_transpose2d", axis=1)
    _same_dtype("conv_transpose2d", X=X, weight=weight, bias=bias)
    if bias is not None and tuple(bias.shape) != (weight.shape[1],):
        raise ValueError(f"conv_transpose2d: bias must have shape ({weight.shape[1]},) to match "
                         f"weight's {weight.shape[1]} output channels, got {tuple(bias.shape)}")
    (sh, sw), (ph, pw) = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    (oh, ow), (dh, dw) = _pair(output_padding, "output_padding", 0), _pair(dilation, "dilation", 1)
    N, _, H, W = X.shape
    kh, kw = weight.shape[2:]
    H2 = transposed_output_size(H, kh, sh, ph, oh, dh)
    W2 = transposed_output_size(W, kw, sw, pw, ow, dw)
    # the uncropped grid: big enough for every scattered kernel and for output_padding
    full = torch.zeros(N, weight.shape[1], H2 + 2 * ph, W2 + 2 * pw, dtype=X.dtype, device=X.device)
    for i in range(kh):          # one kernel tap at a time: a strided slice gets X times w[:, :, i, j]
        for j in range(kw):
            contribution = torch.einsum("nchw,co->nohw", X, weight[:, :, i, j])
            r, c = i * dh, j * dw
            full[:, :, r:r + (H - 1) * sh + 1:sh, c:c + (W - 1) * sw + 1:sw] += contribution
    Y = full[:, :, ph:ph + H2, pw:pw + W2]
    if bias is not None:
        Y = Y + bias.view(1, -1, 1, 1)
    return Y


# --------------------------------------------------------------------------
# The minimal layer from the cross-correlation chapter
# --------------------------------------------------------------------------

class Conv2D(nn.Module):
    """The smallest convolutional layer: one kernel and a scalar bias.

    Input (H, W) -> output (H-kh+1, W-kw+1), computed with ``corr2d``. The
    weight starts uniform in [0, 1) (seed first for reproducible runs).
    """

    def __init__(self, kernel_size: IntOrPair):
        super().__init__()
        kh, kw = _pair(kernel_size, "kernel_size", 1)
        self.weight = nn.Parameter(torch.rand(kh, kw))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return corr2d(X, self.weight) + self.bias
