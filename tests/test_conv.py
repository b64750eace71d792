"""helpers.conv against torch.nn.functional: values, shapes, gradients, errors."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import conv

DT = torch.float64  # double precision so the oracle comparisons can be tight


def pair(draw, lo, hi):
    a = draw(st.integers(lo, hi))
    return a if draw(st.booleans()) else (a, draw(st.integers(lo, hi)))


def as_pair(v):
    return v if isinstance(v, tuple) else (v, v)


@st.composite
def conv_case(draw):
    """A random but valid conv2d problem: shapes, stride, padding, dilation."""
    kernel = as_pair(pair(draw, 1, 5))
    stride, padding, dilation = pair(draw, 1, 3), pair(draw, 0, 2), pair(draw, 1, 3)
    p, d = as_pair(padding), as_pair(dilation)
    # smallest input the dilated kernel fits once padded, plus some slack
    hw = [max(1, d[i] * (kernel[i] - 1) + 1 - 2 * p[i]) + draw(st.integers(0, 6)) for i in (0, 1)]
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return dict(shape=(n, c_in, *hw), weight=(c_out, c_in, *kernel),
                stride=stride, padding=padding, dilation=dilation, bias=draw(st.booleans()))


@given(conv_case(), st.integers(0, 2**31 - 1))
def test_conv2d_matches_torch_values_and_gradients(case, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(case["shape"], generator=g, dtype=DT, requires_grad=True)
    W = torch.randn(case["weight"], generator=g, dtype=DT, requires_grad=True)
    b = torch.randn(case["weight"][0], generator=g, dtype=DT, requires_grad=True) if case["bias"] else None
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])

    ours = conv.conv2d(X, W, b, **kw)
    ref = F.conv2d(X, W, b, **kw)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)

    # gradients of the same scalar through both implementations
    R = torch.randn(ref.shape, generator=g, dtype=DT)
    params = [X, W] + ([b] if b is not None else [])
    g_ours = torch.autograd.grad((ours * R).sum(), params)
    g_ref = torch.autograd.grad((ref * R).sum(), params)
    for a, r in zip(g_ours, g_ref):
        torch.testing.assert_close(a, r)


@given(conv_case())
def test_output_size_matches_torch_shape(case):
    H, W = case["shape"][2:]
    kh, kw = case["weight"][2:]
    p, s, d = (as_pair(case[k]) for k in ("padding", "stride", "dilation"))
    ref = F.conv2d(torch.zeros(1, 1, H, W), torch.zeros(1, 1, kh, kw),
                   stride=s, padding=p, dilation=d).shape[2:]
    assert conv.output_size(H, kh, p[0], s[0], d[0]) == ref[0]
    assert conv.output_size(W, kw, p[1], s[1], d[1]) == ref[1]
    assert conv.output_size((H, W), (kh, kw), p, s, d) == tuple(ref)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 5), st.integers(0, 5),
       st.integers(0, 2**31 - 1))
def test_corr2d_matches_torch(kh, kw, extra_h, extra_w, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(kh + extra_h, kw + extra_w, generator=g, dtype=DT)
    K = torch.randn(kh, kw, generator=g, dtype=DT)
    ref = F.conv2d(X[None, None], K[None, None])[0, 0]
    torch.testing.assert_close(conv.corr2d(X, K), ref)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2**31 - 1))
def test_multi_channel_correlations_match_torch(c_in, c_out, kh, kw, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(c_in, kh + 3, kw + 2, generator=g, dtype=DT)
    K = torch.randn(c_out, c_in, kh, kw, generator=g, dtype=DT)
    ref = F.conv2d(X[None], K)[0]
    torch.testing.assert_close(conv.corr2d_multi_in(X, K[0]), ref[0])
    torch.testing.assert_close(conv.corr2d_multi_in_out(X, K), ref)
    K1 = torch.randn(c_out, c_in, 1, 1, generator=g, dtype=DT)
    torch.testing.assert_close(conv.corr2d_multi_in_out_1x1(X, K1), F.conv2d(X[None], K1)[0])


@st.composite
def pool_case(draw):
    kernel = pair(draw, 1, 4)
    k = as_pair(kernel)
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    hw = [max(1, k[i] - 2 * padding[i]) + draw(st.integers(0, 6)) for i in (0, 1)]
    lead = draw(st.sampled_from([(), (2,), (2, 3)]))
    return dict(shape=(*lead, *hw), kernel=kernel, stride=stride, padding=padding,
                mode=draw(st.sampled_from(["max", "avg"])))


@given(pool_case(), st.integers(0, 2**31 - 1))
def test_pool2d_matches_torch_values_and_gradients(case, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(case["shape"], generator=g, dtype=DT, requires_grad=True)
    torch_pool = F.max_pool2d if case["mode"] == "max" else F.avg_pool2d
    X4 = X.reshape(-1, 1, *X.shape[-2:])
    ref = torch_pool(X4, case["kernel"], case["stride"], case["padding"])
    ref = ref.reshape(*X.shape[:-2], *ref.shape[-2:])

    ours = conv.pool2d(X, case["kernel"], case["stride"], case["padding"], mode=case["mode"])
    torch.testing.assert_close(ours, ref)
    R = torch.randn(ref.shape, generator=g, dtype=DT)
    (g_ours,) = torch.autograd.grad((ours * R).sum(), X)
    (g_ref,) = torch.autograd.grad((ref * R).sum(), X)
    torch.testing.assert_close(g_ours, g_ref)


# ---- the seeds' worked examples ------------------------------------------------

def test_seed_examples():
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert conv.corr2d(X, K).tolist() == [[19, 25], [37, 43]]
    X2 = torch.stack([X, X + 1])
    K2 = torch.stack([K, K + 1])
    assert conv.corr2d_multi_in(X2, K2).tolist() == [[56, 72], [104, 120]]
    assert conv.pool2d(X, 2, stride=1).tolist() == [[4, 5], [7, 8]]
    assert conv.pool2d(X, 2, stride=1, mode="avg").tolist() == [[2, 3], [5, 6]]
    X16 = torch.arange(16.0).reshape(4, 4)
    assert conv.pool2d(X16, 3, stride=2, padding=1).tolist() == [[5, 7], [13, 15]]


def test_output_size_examples():
    assert conv.output_size(8, 3, padding=1) == 8
    assert conv.output_size((8, 8), (5, 3), padding=(2, 1)) == (8, 8)
    assert conv.output_size(8, 3, padding=1, stride=2) == 4
    assert conv.output_size(6, 3) == 4
    assert conv.output_size(6, 3, padding=1) == 6
    assert conv.output_size(5, 3, stride=2) == 2
    assert conv.output_size(7, 3, stride=3) == 2  # floor drops the last row
    assert conv.output_size(7, 3, dilation=2) == 3


def test_conv2d_layer_learns_with_autograd():
    torch.manual_seed(0)
    layer = conv.Conv2D((1, 2))
    assert layer.weight.shape == (1, 2) and layer.bias.shape == (1,)
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    Y = conv.corr2d(X, torch.tensor([[1.0, -1.0]]))
    out = layer(X)
    assert out.shape == (6, 7)
    ((out - Y) ** 2).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


# ---- bad input: one test per case, checking the message names the numbers ------

def test_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"5x5 does not fit.*3x3.*padding 0"):
        conv.corr2d(torch.zeros(3, 3), torch.zeros(5, 5))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"7x7 does not fit.*3x3.*padding 1.*5x5"):
        conv.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 7, 7), padding=1)


def test_dilated_kernel_too_large():
    with pytest.raises(ValueError, match=r"3x3.*5x5.*dilation 2x2.*does not fit.*4x4"):
        conv.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3), dilation=2)


def test_output_size_does_not_fit():
    with pytest.raises(ValueError, match=r"5 does not fit.*3.*padding 0"):
        conv.output_size(3, 5)
    with pytest.raises(ValueError, match=r"dilation 3.*7.*does not fit"):
        conv.output_size(5, 3, dilation=3)


@pytest.mark.parametrize("name, value, message", [
    ("stride", 0, r"stride .*>= 1.*got 0"),
    ("stride", (1, -2), r"stride .*>= 1.*\(1, -2\)"),
    ("dilation", 0, r"dilation .*>= 1.*got 0"),
    ("padding", -1, r"padding .*>= 0.*got -1"),
    ("stride", 1.5, r"stride must be an int.*1\.5"),
    ("padding", (1, 2, 3), r"padding must be an int or a pair.*\(1, 2, 3\)"),
    ("dilation", True, r"dilation must be an int.*True"),
])
def test_bad_hyperparameters(name, value, message):
    X, W = torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match=message):
        conv.conv2d(X, W, **{name: value})
    with pytest.raises(ValueError, match=message):
        conv.output_size(6, 3, **{name: value})


def test_non_integer_sizes():
    with pytest.raises(ValueError, match=r"kernel_size must be an int.*2\.0"):
        conv.output_size(6, 2.0)
    with pytest.raises(ValueError, match=r"n must be an int.*'6'"):
        conv.output_size("6", 3)
    with pytest.raises(ValueError, match=r"kernel_size must be an int.*2\.5"):
        conv.pool2d(torch.zeros(4, 4), 2.5)
    with pytest.raises(ValueError, match=r"kernel_size must be an int"):
        conv.Conv2D(1.5)


def test_channel_mismatch():
    with pytest.raises(ValueError, match=r"conv2d: X has 3 input channels.*2"):
        conv.conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"corr2d_multi_in: .*2 input channels.*K has 3"):
        conv.corr2d_multi_in(torch.zeros(2, 3, 3), torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match=r"corr2d_multi_in_out: .*2 input channels.*K has 1"):
        conv.corr2d_multi_in_out(torch.zeros(2, 3, 3), torch.zeros(4, 1, 2, 2))
    with pytest.raises(ValueError, match=r"corr2d_multi_in_out_1x1: .*3 input channels.*K has 2"):
        conv.corr2d_multi_in_out_1x1(torch.zeros(3, 3, 3), torch.zeros(2, 2, 1, 1))


def test_wrong_number_of_dimensions():
    with pytest.raises(ValueError, match=r"corr2d .*X.*\(H, W\).*\(1, 3, 3\)"):
        conv.corr2d(torch.zeros(1, 3, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"conv2d .*X.*\(N, C, H, W\).*X\[None\]"):
        conv.conv2d(torch.zeros(1, 5, 5), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d .*weight.*\(C_out, C_in, kh, kw\)"):
        conv.conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"pool2d .*\(H, W\).*\(N, C, H, W\).*\(5,\)"):
        conv.pool2d(torch.zeros(5), 2)


def test_other_bad_input():
    with pytest.raises(ValueError, match=r"1x1.*3x3"):
        conv.corr2d_multi_in_out_1x1(torch.zeros(2, 4, 4), torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\).*got \(3,\)"):
        conv.conv2d(torch.zeros(1, 1, 5, 5), torch.zeros(4, 1, 3, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"mode.*'max'.*'avg'.*'min'"):
        conv.pool2d(torch.zeros(4, 4), 2, mode="min")
    with pytest.raises(ValueError, match=r"padding.*half the window.*2.*3"):
        conv.pool2d(torch.zeros(4, 4), 3, padding=2)
    with pytest.raises(ValueError, match=r"window 5x5 does not fit.*4x4"):
        conv.pool2d(torch.zeros(4, 4), 5)
    with pytest.raises(ValueError, match=r"floating-point.*torch.int64"):
        conv.pool2d(torch.arange(16).reshape(4, 4), 2)
    with pytest.raises(TypeError, match=r"torch.Tensor.*list"):
        conv.corr2d([[1, 2], [3, 4]], torch.zeros(1, 1))


# ---- issue 13: empty shapes, bias types and dtypes follow torch's rules, naming the argument ----

def test_an_empty_kernel_is_refused_like_torch():
    with pytest.raises(RuntimeError):
        F.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 0, 0))
    with pytest.raises(ValueError, match=r"corr2d: K .*1x1.*0x0"):
        conv.corr2d(torch.zeros(3, 3), torch.zeros(0, 0))
    with pytest.raises(ValueError, match=r"conv2d: weight .*1x1.*2x0"):
        conv.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 0))
    with pytest.raises(ValueError, match=r"corr2d_multi_in: K .*1x1"):
        conv.corr2d_multi_in(torch.zeros(2, 3, 3), torch.zeros(2, 0, 0))
    with pytest.raises(ValueError, match=r"conv2d: weight has no output channels"):
        conv.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(0, 1, 2, 2))
    with pytest.raises(ValueError, match=r"corr2d_multi_in_out: K has no output channels"):
        conv.corr2d_multi_in_out(torch.zeros(1, 3, 3), torch.zeros(0, 1, 2, 2))


def test_no_input_channels_is_refused_naming_x():
    # torch answers C_in = 0 with an empty tensor that lost its output channel too: no result
    assert F.conv2d(torch.zeros(1, 0, 4, 5), torch.zeros(1, 0, 2, 3)).numel() == 0
    X, K = torch.zeros(0, 4, 5), torch.zeros(0, 2, 3)
    with pytest.raises(ValueError, match=r"corr2d_multi_in: X has no input channels.*\(0, 4, 5\)"):
        conv.corr2d_multi_in(X, K)
    with pytest.raises(ValueError, match=r"corr2d_multi_in_out: X has no input channels"):
        conv.corr2d_multi_in_out(X, torch.zeros(2, 0, 2, 3))
    with pytest.raises(ValueError, match=r"corr2d_multi_in_out_1x1: X has no input channels"):
        conv.corr2d_multi_in_out_1x1(X, torch.zeros(2, 0, 1, 1))
    with pytest.raises(ValueError, match=r"conv2d: X has no input channels"):
        conv.conv2d(torch.zeros(2, 0, 4, 4), torch.zeros(3, 0, 2, 2))


@pytest.mark.parametrize("shape", [(0, 3, 3), (1, 0, 3), (2, 3, 0), (0, 4), (1, 0, 3, 3), (1, 1, 0, 3)])
def test_pool2d_refuses_empty_images_naming_the_axis(shape):
    if len(shape) > 2:  # torch refuses these too (it has no 2-D form to compare)
        with pytest.raises(RuntimeError):
            F.max_pool2d(torch.zeros(shape), 2)
    with pytest.raises(ValueError, match=r"pool2d .*empty.*at least 1"):
        conv.pool2d(torch.zeros(shape), 2)


def test_pool2d_pools_a_batch_of_no_images_like_torch():
    X = torch.zeros(0, 3, 4, 4)
    for mode, ref in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        got = conv.pool2d(X, 2, mode=mode)
        assert got.shape == ref(X, 2).shape == (0, 3, 2, 2)


def test_bias_must_be_a_tensor_and_is_named():
    with pytest.raises(TypeError):
        F.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 2), [0.0])
    with pytest.raises(TypeError, match=r"conv2d .*bias.*torch.Tensor.*list"):
        conv.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 2), [0.0])
    with pytest.raises(ValueError, match=r"conv2d .*bias.*\(C_out,\)"):
        conv.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 2), torch.zeros(1, 1))


@pytest.mark.parametrize("call, message", [
    (lambda f64, f32: conv.corr2d(f64(3, 3), f32(2, 2)), r"corr2d: .* X is torch.float64, K is torch.float32"),
    (lambda f64, f32: conv.corr2d_multi_in(f32(2, 3, 3), f64(2, 2, 2)), r"corr2d_multi_in: .* X is torch.float32, K is torch.float64"),
    (lambda f64, f32: conv.corr2d_multi_in_out(f32(2, 3, 3), f64(1, 2, 2, 2)), r"X is torch.float32, K is torch.float64"),
    (lambda f64, f32: conv.corr2d_multi_in_out_1x1(f64(2, 3, 3), f32(1, 2, 1, 1)), r"1x1: .* X is torch.float64, K is torch.float32"),
    (lambda f64, f32: conv.conv2d(f64(1, 1, 3, 3), f32(1, 1, 2, 2)), r"conv2d: .* X is torch.float64, weight is torch.float32"),
    (lambda f64, f32: conv.conv2d(f32(1, 1, 3, 3), f32(1, 1, 2, 2), f64(1)), r"weight is torch.float32, bias is torch.float64"),
    (lambda f64, f32: conv.Conv2D(2)(f64(3, 3)), r"corr2d: .* X is torch.float64, K is torch.float32"),
])
def test_mixed_dtypes_are_refused_like_torch_naming_the_arguments(call, message):
    f64 = lambda *s: torch.zeros(*s, dtype=torch.float64)  # noqa: E731
    f32 = lambda *s: torch.zeros(*s, dtype=torch.float32)  # noqa: E731
    with pytest.raises(RuntimeError):  # torch refuses the same mixture
        F.conv2d(f64(1, 1, 3, 3), f32(1, 1, 2, 2))
    with pytest.raises(ValueError, match=message):
        call(f64, f32)


def test_matching_integer_tensors_are_accepted_as_torch_does():
    X, K = torch.arange(9).reshape(3, 3), torch.tensor([[0, 1], [2, 3]])
    want = F.conv2d(X[None, None], K[None, None])[0, 0]
    assert conv.corr2d(X, K).tolist() == want.tolist() == [[19, 25], [37, 43]]
    assert torch.equal(conv.conv2d(X[None, None], K[None, None]), want[None, None])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.bool])
def test_narrow_integer_tensors_are_refused_instead_of_wrapping_around(dtype):
    # 40 * 40 = 1600 is 64 in uint8: a silent wrong answer, so it is refused with the remedy
    X = torch.full((3, 3), 1, dtype=dtype)
    with pytest.raises(TypeError, match=r"too narrow.*\.float\(\)"):
        conv.corr2d(X, X[:2, :2])
    with pytest.raises(TypeError, match="too narrow"):
        conv.conv2d(X[None, None], X[None, None, :2, :2])
    assert conv.corr2d(torch.full((3, 3), 40), torch.full((1, 1), 40))[0, 0] == 1600   # int64 is fine


# --------------------------------------------------------------------------
# im2col, and the transposed convolution
# --------------------------------------------------------------------------

@given(conv_case(), st.integers(0, 2**31 - 1))
def test_im2col_and_conv2d_im2col_match_torch(case, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(case["shape"], generator=g, dtype=DT)
    W = torch.randn(case["weight"], generator=g, dtype=DT)
    b = torch.randn(case["weight"][0], generator=g, dtype=DT) if case["bias"] else None
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
    cols = conv.im2col(X, case["weight"][2:], **kw)
    torch.testing.assert_close(cols, F.unfold(X, case["weight"][2:], **kw))
    torch.testing.assert_close(conv.conv2d_im2col(X, W, b, **kw), F.conv2d(X, W, b, **kw))


@st.composite
def transposed_case(draw):
    """A valid conv_transpose2d problem, output_padding included."""
    kernel = as_pair(pair(draw, 1, 4))
    stride, dilation = as_pair(pair(draw, 1, 3)), as_pair(pair(draw, 1, 2))
    padding = as_pair(pair(draw, 0, 2))
    out_pad = tuple(draw(st.integers(0, max(stride[i], dilation[i]) - 1)) for i in (0, 1))
    hw = tuple(draw(st.integers(1, 5)) for _ in (0, 1))
    # keep only settings whose output is at least 1 x 1 (the padding crops the rest)
    for i in (0, 1):
        full = (hw[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + out_pad[i] + 1
        if full - 2 * padding[i] < 1:
            padding = tuple(0 if j == i else padding[j] for j in (0, 1))
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(shape=(n, c_in, *hw), weight=(c_in, c_out, *kernel), stride=stride,
                padding=padding, output_padding=out_pad, dilation=dilation, bias=draw(st.booleans()))


@given(transposed_case(), st.integers(0, 2**31 - 1))
def test_conv_transpose2d_matches_torch_values_and_sizes(case, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(case["shape"], generator=g, dtype=DT)
    W = torch.randn(case["weight"], generator=g, dtype=DT)
    b = torch.randn(case["weight"][1], generator=g, dtype=DT) if case["bias"] else None
    kw = {k: case[k] for k in ("stride", "padding", "output_padding", "dilation")}
    ours = conv.conv_transpose2d(X, W, b, **kw)
    torch.testing.assert_close(ours, F.conv_transpose2d(X, W, b, **kw))
    for axis in (0, 1):
        assert ours.shape[2 + axis] == conv.transposed_output_size(
            case["shape"][2 + axis], case["weight"][2 + axis],
            *(case[k][axis] for k in ("stride", "padding", "output_padding", "dilation")))


@given(transposed_case(), st.integers(0, 2**31 - 1))
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(case, seed):
    """A transposed convolution of G equals d<conv2d(X, W), G>/dX for the X it is shaped for."""
    # output_padding >= stride (torch allows it below the dilation) makes an X that
    # conv2d maps to a larger Y: no longer the shape-inverse
    assume(all(op < s for op, s in zip(case["output_padding"], case["stride"])))
    g = torch.Generator().manual_seed(seed)
    G = torch.randn(case["shape"], generator=g, dtype=DT)             # plays dL/dY
    W = torch.randn(case["weight"], generator=g, dtype=DT)            # (C_in of Y, C_out of X, kh, kw)
    kw = {k: case[k] for k in ("stride", "padding", "dilation")}
    Z = conv.conv_transpose2d(G, W, output_padding=case["output_padding"], **kw)
    X = torch.zeros(Z.shape, dtype=DT, requires_grad=True)            # conv2d maps X back to G's shape
    Y = F.conv2d(X, W, **kw)
    assert Y.shape == G.shape
    (grad,) = torch.autograd.grad((Y * G).sum(), X)
    torch.testing.assert_close(Z, grad)


@pytest.mark.parametrize("call, words", [
    (lambda: conv.conv_transpose2d(torch.ones(1, 2, 3, 3), torch.ones(3, 1, 2, 2)), "C_in first"),
    (lambda: conv.conv_transpose2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), stride=2,
                                   output_padding=2), "output_padding"),
    (lambda: conv.conv_transpose2d(torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1), padding=1),
     "crops away"),
    (lambda: conv.conv_transpose2d(torch.ones(1, 1, 3, 3), torch.ones(1, 2, 2, 2),
                                   bias=torch.ones(3)), "bias"),
    (lambda: conv.im2col(torch.ones(1, 1, 2, 2), 3), "does not fit"),
    (lambda: conv.im2col(torch.ones(1, 2, 2), 1), "add a leading axis"),
    (lambda: conv.conv2d_im2col(torch.ones(1, 2, 3, 3), torch.ones(1, 3, 2, 2)), "input channels"),
])
def test_transposed_and_im2col_errors_name_the_problem(call, words):
    with pytest.raises((ValueError, TypeError), match=words):
        call()
