"""helpers.widgets: Python traits and validation, and the browser arithmetic run with node.

The JavaScript that the explorers run in the browser (helpers/widgets/*.js)
is executed here with Node.js and compared with helpers.conv and torch over
many settings; tests/browser/ checks the same code drawn in the built book.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import pathlib
import re
import shutil
import subprocess

import pytest
import torch
import torch.nn.functional as F
import traitlets as t

from helpers import conv, data, widgets
from tools import notebooks

MATH_JS = pathlib.Path(widgets.__file__).with_name("conv_math.js")


def node(script: str, payload=None, module: str = "conv_math.js"):
    """Run an ES module script with node, `module` imported as m; it reads JSON `input` and prints JSON."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node (Node.js) is needed to test the widgets' JavaScript; install it "
                    "(e.g. `apt-get install nodejs npm`), it also provides npm for the book's runtime")
    prelude = (f"import * as m from {json.dumps(MATH_JS.with_name(module).as_uri())};\n"
               "import { readFileSync } from 'node:fs';\n"
               "const input = JSON.parse(readFileSync(0, 'utf8'));\n")
    out = subprocess.run([exe, "--input-type=module", "-e", prelude + script], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# --------------------------------------------------------------------------
# The JavaScript arithmetic against helpers.conv and torch
# --------------------------------------------------------------------------

SETTINGS = list(itertools.product(range(1, 11), range(1, 8), range(0, 4), range(1, 5), range(1, 4)))


def test_js_output_size_agrees_with_helpers_conv_everywhere():
    """All 3,360 (n, k, p, s, d) the explorer's sliders reach, fitting or not."""
    js = node("console.log(JSON.stringify(input.map(([n, k, p, s, d]) =>"
              " [m.outputSize(n, k, p, s, d), m.problem(n, k, p, d, 'conv')])));", SETTINGS)
    fits = floors = 0
    for (n, k, p, s, d), (size, problem) in zip(SETTINGS, js):
        try:
            want = conv.output_size(n, k, p, s, d)
        except ValueError:
            assert problem.startswith("Refused") and size == 0, (n, k, p, s, d)
            continue
        assert (size, problem) == (want, ""), (n, k, p, s, d)
        fits += 1
        floors += (n + 2 * p - d * (k - 1) - 1) % s != 0
    assert fits > 1000 and floors > 300  # both kinds are well covered


def test_js_pooling_rules_match_torch():
    cases = [(n, k, p, d, mode) for n, k, p, d in itertools.product(range(1, 7), range(1, 5), range(0, 3), (1, 2))
             for mode in ("max", "avg")]
    js = node("console.log(JSON.stringify(input.map(([n, k, p, d, mode]) => m.problem(n, k, p, d, mode))));", cases)
    for (n, k, p, d, mode), problem in zip(cases, js):
        x = torch.zeros(1, 1, n, n)
        try:
            if mode == "max":
                F.max_pool2d(x, k, stride=1, padding=p, dilation=d)
            elif d == 1:
                F.avg_pool2d(x, k, stride=1, padding=p)
            else:
                raise RuntimeError("avg_pool2d takes no dilation")
            torch_ok = True
        except RuntimeError:
            torch_ok = False
        assert (problem == "") == torch_ok, (n, k, p, d, mode, problem)


def test_js_outputs_equal_torch():
    gen = torch.Generator().manual_seed(0)
    cases = []
    for n, k, p, s, d in SETTINGS[::7]:
        for mode in ("conv", "max", "avg"):
            if (mode != "conv" and 2 * p > k) or (mode == "avg" and d > 1):
                continue
            if d * (k - 1) + 1 > n + 2 * p:
                continue
            X = torch.randint(-9, 10, (n, n), generator=gen).double()
            K = torch.randint(-3, 4, (k, k), generator=gen).double()
            cases.append(((n, k, p, s, d, mode), X.tolist(), K.tolist()))
    js = node("console.log(JSON.stringify(input.map(([[n, k, p, s, d, mode], X, K]) =>"
              " m.explore(X, K, {k, p, s, d, mode}).Y)));", cases)
    for ((n, k, p, s, d, mode), X, K), Y in zip(cases, js):
        x = torch.tensor(X, dtype=torch.float64)[None, None]
        if mode == "conv":
            K = torch.tensor(K, dtype=torch.float64)
            want = F.conv2d(x, K[None, None], stride=s, padding=p, dilation=d)
        elif mode == "max":
            want = F.max_pool2d(x, k, stride=s, padding=p, dilation=d)
        else:
            want = F.avg_pool2d(x, k, stride=s, padding=p)
        got = torch.tensor([[float("-inf") if v is None else v for v in row] for row in Y], dtype=torch.float64)
        torch.testing.assert_close(got, want[0, 0], msg=str((n, k, p, s, d, mode)))
    assert len(cases) > 500


def test_js_multi_channel_and_image_filter_equal_torch():
    X, K = torch.randn(3, 6, 6, dtype=torch.float64), torch.randn(2, 3, 3, 3, dtype=torch.float64)
    b = torch.randn(2, dtype=torch.float64)
    img = data.sample_photo(size=24).double()
    out = node("const [X, K, b, img, H, W, F3] = input;"
               "console.log(JSON.stringify([[0, 1], [1, 2], [2, 3]].map(([p, s]) => ["
               " m.multiChannel(X, K, b, p, s).Y, Array.from(m.filterImage(img, H, W, F3, s, p).data)])));",
               [X.tolist(), K.tolist(), b.tolist(), img.flatten().tolist(), *img.shape, K[0, 0].flatten().tolist()])
    for (p, s), (Y, filtered) in zip([(0, 1), (1, 2), (2, 3)], out):
        torch.testing.assert_close(torch.tensor(Y, dtype=torch.float64), F.conv2d(X[None], K, b, stride=s, padding=p)[0])
        want = F.conv2d(img[None, None], K[0, 0][None, None], stride=s, padding=p)[0, 0]
        torch.testing.assert_close(torch.tensor(filtered, dtype=torch.float64).reshape(want.shape), want)


def test_js_number_format():
    got = node("console.log(JSON.stringify(input.map(m.fmt)));", [19, -3, 2.5, 1 / 3, -0.004, 12345])
    assert got == ["19", "−3", "2.5", "0.33", "0", "12345"]


def test_js_number_format_near_the_float_limit_and_at_infinity():
    # JSON has no infinities: the script builds them from the names
    got = node("const v = {inf: Infinity, ninf: -Infinity, nan: NaN, max: Number.MAX_VALUE};"
               "console.log(JSON.stringify(input.map((x) => m.fmt(typeof x === 'string' ? "
               "(x[0] === '-' ? -v[x.slice(1)] : v[x]) : x))));",
               ["inf", "ninf", "-inf", "nan", "max", "-max", 1e300, -1e300, 2 ** 60, 0.125])
    assert got == ["∞", "−∞", "−∞", "NaN", "1.7976931348623157e+308", "−1.7976931348623157e+308",
                   "1e+300", "−1e+300", "1152921504606847000", "0.13"]
    assert not any("Infinity" in text for text in got)


def test_js_parse_weight_takes_only_finite_numbers():
    got = node("console.log(JSON.stringify(input.map(m.parseWeight)));",
               ["1e999", "-1e999", "NaN", "", "  ", "abc", "Infinity", "2.5", " -1 ", "1e-3", "0"])
    assert got == [None, None, None, None, None, None, None, 2.5, -1, 0.001, 0]


def test_js_size_formula_and_padding_cells():
    got = node("console.log(JSON.stringify([m.sizeFormula(94, 3, 1, 2),"
               " [0, 1, 2, 3, 4].map((r) => m.isPadding(r, 2, 3, 1))]));")
    assert got == ["⌊(94 + 2·1 − 3) / 2⌋ + 1", [True, False, False, False, True]]
    assert (94 + 2 * 1 - 3) // 2 + 1 == conv.output_size(94, 3, 1, 2)


def test_js_base64_bytes_match_python():
    raw = bytes(range(256))
    got = node("const b = m.fromBase64(input); console.log(JSON.stringify([Array.from(b), Array.from(m.unitPixels(b, 254))]));",
               base64.b64encode(raw).decode("ascii"), module="bytes.js")
    assert got == [list(raw), [254 / 255, 1.0]]


def test_js_colour_scales():
    """White at 0, the end colours at ±limit, a square-root ramp between; grays both ways."""
    got = node("const px = (f, v) => { const a = [0, 0, 0]; f(v, a, 0); return a.map(Math.round); };"
               "const d = m.diverging(4);"
               "console.log(JSON.stringify([px(d, 0), px(d, -4), px(d, 4), px(d, 1), px(d, 99), px(m.diverging(0), 1),"
               " px(m.photoGray, 1), px(m.inkGray, 1), m.maxAbs([1, -5, 3]), m.maxAbs([1, -5, 3], 2),"
               " m.divergingGradient(3)]));", module="paint.js")
    white, blue, red = [255, 255, 255], [33, 102, 172], [178, 24, 43]
    half = [math.floor(255 + (e - 255) * 0.5 + 0.5) for e in red]  # rounded as JS does; |v| / limit = 1/4, strength sqrt(1/4)
    assert got == [white, blue, red, half, red, red, white, [0, 0, 0], 5, 3,
                   "linear-gradient(to right, rgb(33,102,172), rgb(255,255,255), rgb(178,24,43))"]


TRANSPOSED = list(itertools.product(*(range(lo, hi + 1) for lo, hi in
                                        widgets.TransposedExplorer.LIMITS.values())))


def test_js_transposed_convolution_equals_torch_for_every_slider_setting():
    """All 540 (n, k, s, p, output_padding) the explorer reaches: size, refusal and values."""
    gen = torch.Generator().manual_seed(0)
    cases = [(setting, torch.randint(-9, 10, (setting[0],) * 2, generator=gen).double().tolist(),
              torch.randint(-3, 4, (setting[1],) * 2, generator=gen).double().tolist())
             for setting in TRANSPOSED]
    js = node("console.log(JSON.stringify(input.map(([[n, k, s, p, op], X, K]) =>"
              " m.transposed(X, K, {k, s, p, op}))));", cases)
    drawn = refused = 0
    for ((n, k, s, p, op), X, K), got in zip(cases, js):
        x = torch.tensor(X, dtype=torch.float64)[None, None]
        w = torch.tensor(K, dtype=torch.float64)[None, None]
        try:
            want = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op)[0, 0]
        except RuntimeError:
            assert got["problem"].startswith("Refused") and got["Y"] == [], (n, k, s, p, op)
            refused += 1
            continue
        assert got["problem"] == "" and got["size"] == want.shape[-1], (n, k, s, p, op)
        torch.testing.assert_close(torch.tensor(got["Y"], dtype=torch.float64), want)
        # the copies: the same scatter with ones everywhere
        ones = F.conv_transpose2d(torch.ones_like(x), torch.ones_like(w), stride=s, padding=p, output_padding=op)
        assert got["copies"] == ones[0, 0].int().tolist(), (n, k, s, p, op)
        drawn += 1
    assert drawn > 300 and refused > 100


def test_js_scatter_and_gather_are_the_same_pairs():
    """Input (h, w) lands on output (r, c) through tap (a, b) exactly when (r, c) gathers it."""
    out = node("const res = [];"
               "for (const [n, k, s, p, op] of input) {"
               "  const size = m.transposedSize(n, k, s, p, op); if (size < 1 || op >= s) continue;"
               "  const a = [], b = [];"
               "  for (let h = 0; h < n; h++) for (let w = 0; w < n; w++)"
               "    for (const t of m.scatterCells(h, w, k, s, p, size)) a.push([h, w, t.r, t.c, t.a, t.b].join());"
               "  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++)"
               "    for (const t of m.gatherCells(r, c, n, k, s, p)) b.push([t.h, t.w, r, c, t.a, t.b].join());"
               "  res.push([a.sort().join(';') === b.sort().join(';'), a.length]); }"
               "console.log(JSON.stringify(res));", TRANSPOSED)
    assert all(same for same, _ in out) and sum(count for _, count in out) > 1000


@pytest.mark.parametrize("entry", ["conv_explorer.js", "channel_explorer.js", "kernel_playground.js",
                                   "transposed_explorer.js"])
def test_bundles_are_self_contained_modules(entry, tmp_path):
    """What anywidget sends to the browser: one module, no relative import left, a render()."""
    source = widgets.bundle(entry)
    assert "from \"./" not in source
    path = tmp_path / "bundle.mjs"
    path.write_text(source)
    kinds = node(f"const b = await import({json.dumps(path.as_uri())});"
                 "console.log(JSON.stringify([typeof b.default.render, typeof b.outputSize]));")
    assert kinds == ["function", "function"]


# --------------------------------------------------------------------------
# Python side: defaults, traits, validation
# --------------------------------------------------------------------------

def test_conv_explorer_defaults_are_the_seed_example():
    w = widgets.ConvExplorer()
    assert w.torch_output().tolist() == [[19.0, 25.0], [37.0, 43.0]]
    assert (w.Y, w.error, w.drawn_output()) == ([], "", None)  # no view has drawn it
    assert repr(w) == "ConvExplorer(n=3, kernel_size=2, padding=0, stride=1, dilation=1, mode='conv')"
    assert torch.equal(w.input_values(), torch.arange(9.0, dtype=torch.float64).reshape(3, 3))


def test_conv_explorer_pooling_seed_numbers():
    X = torch.arange(16.0).reshape(4, 4)
    out = widgets.ConvExplorer(X, mode="max", kernel_size=3, padding=1, stride=2).torch_output()
    assert out.tolist() == [[5, 7], [13, 15]]
    assert widgets.ConvExplorer(mode="avg").torch_output().tolist() == [[2, 3], [5, 6]]
    assert widgets.ConvExplorer(mode="max").torch_output().tolist() == [[4, 5], [7, 8]]


def test_conv_explorer_torch_output_follows_python_changes():
    w = widgets.ConvExplorer(X=torch.arange(64.0).reshape(8, 8), K=torch.ones(3, 3))
    w.position = 35
    w.padding, w.stride = 1, 2
    assert w.position == 15  # the last cell of the smaller output
    want = F.conv2d(torch.arange(64.0).reshape(1, 1, 8, 8), torch.ones(1, 1, 3, 3), padding=1, stride=2)
    assert w.torch_output().shape == (4, 4) and conv.output_size(8, 3, 1, 2) == 4
    assert torch.equal(w.torch_output(), want[0, 0].double())
    assert w.Y == []  # Python never writes what a view draws
    w.n = 5  # X no longer fits: the grid becomes 0, 1, 2, ...
    assert torch.equal(w.input_values(), torch.arange(25.0, dtype=torch.float64).reshape(5, 5))


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=3, kernel_size=5), "does not fit"),
    (dict(n=2, kernel_size=2, dilation=3), "does not fit"),
    (dict(mode="max", kernel_size=2, padding=2), "at most half the window"),
    (dict(mode="avg", n=6, kernel_size=2, dilation=2), "no dilation"),
    (dict(mode="sum"), "mode must be one of"),
    (dict(stride=5), "stride must be between 1 and 4"),
    (dict(n=0), "n must be between 1 and 10"),
    (dict(X=torch.zeros(2, 3)), "square"),
    (dict(X=torch.zeros(3, 3), n=4), "leave n out"),
    (dict(K=[[1.0, float("nan")], [0.0, 0.0]]), "finite"),
    (dict(K=torch.ones(2, 2), mode="max"), "no weights"),
])
def test_conv_explorer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        widgets.ConvExplorer(**kwargs)


def test_conv_explorer_refuses_a_python_change_and_keeps_the_old_value():
    w = widgets.ConvExplorer()
    w.position = 3
    with pytest.raises(ValueError, match="position must be 0 to 3"):
        w.position = 4
    with pytest.raises(ValueError, match="kernel 4 does not fit an input of size 3"):
        w.kernel_size = 4
    assert w.kernel_size == 2 and w.torch_output().tolist() == [[19.0, 25.0], [37.0, 43.0]]
    with pytest.raises(ValueError), w.hold_trait_notifications():
        w.n, w.kernel_size = 2, 3
    assert (w.n, w.kernel_size) == (3, 2)  # rolled back together


def test_conv_explorer_accepts_what_the_browser_sends():
    """An impossible setting from the browser is shown there as a message, not refused here."""
    w = widgets.ConvExplorer()
    w.set_state({"Y": [[19, 25], [37, 43]], "error": ""})  # as a comm message would
    assert torch.equal(w.drawn_output(), w.torch_output())
    w.set_state({"kernel_size": 5, "Y": [], "error": "Refused: ..."})
    assert (w.kernel_size, w.Y, w.error, w.drawn_output()) == (5, [], "Refused: ...", None)
    with pytest.raises(ValueError, match="does not fit"):  # torch's answer: there is none
        w.torch_output()
    with pytest.raises(ValueError, match="stride must be between"):  # sliders never go there
        w.set_state({"stride": 9})
    assert w.stride == 1
    w.set_state({"kernel_size": 3, "mode": "max", "padding": 1, "dilation": 2, "Y": [[None, 4.0], [7.0, 8.0]]})
    assert w.drawn_output()[0, 0] == -math.inf  # JSON's null for a window of padding only


def test_what_a_view_draws_is_read_only_in_python():
    """One writer per derived trait: the browser view."""
    for w, names in [(widgets.ConvExplorer(), ["Y", "error"]), (widgets.ChannelExplorer(), ["Y", "error"]),
                     (widgets.KernelPlayground(size=20), ["out_shape", "preset"]),
                     (widgets.NetworkExplorer(), ["probabilities"])]:
        for name in names:
            with pytest.raises(t.TraitError, match="read-only"):
                setattr(w, name, getattr(w, name))


def test_conv_explorer_validates_python_assignments_like_the_constructor():
    w = widgets.ConvExplorer(n=5)
    with pytest.raises(ValueError, match=r"X is 2x2 but n=5; change both together"):
        w.X = [[1, 2], [3, 4]]
    assert w.X == [] and torch.equal(w.input_values(), torch.arange(25.0, dtype=torch.float64).reshape(5, 5))
    with pytest.raises(ValueError, match=r"K is 3x3 but kernel_size=2"):
        w.K = torch.ones(3, 3)
    with pytest.raises(ValueError, match="square"):
        w.X = torch.zeros(5, 4)
    with w.hold_trait_notifications():  # the way the message names
        w.n, w.X = 2, [[1, 2], [3, 4]]
    assert w.torch_output().tolist() == [[20.0]]
    pooling = widgets.ConvExplorer(mode="max")
    with pytest.raises(ValueError, match="no weights"):
        pooling.K = [[1.0, 0.0], [0.0, 1.0]]


def test_channel_explorer_validates_python_assignments_like_the_constructor():
    w = widgets.ChannelExplorer()
    before = (w.X, w.K, w.bias, w.torch_output())
    for name, value, message in [
        ("K", [], r"K must have shape"),
        ("K", torch.zeros(3, 3, 2, 2), r"X has 2 input channels but K has 3.*hold_trait_notifications"),
        ("X", torch.zeros(3, 3, 3), r"X has 3 input channels but K has 2"),
        ("X", torch.zeros(2, 3, 4), r"square"),
        ("X", torch.zeros(2, 9, 9), r"n must be between 1 and 8"),
        ("bias", [1.0], r"bias must be 3 finite numbers"),
        ("bias", [1.0, float("nan"), 0.0], r"bias must be 3 finite numbers"),
        ("K", torch.zeros(5, 2, 2, 2), r"output channels must number 1 to 4"),
    ]:
        with pytest.raises(ValueError, match=message):
            setattr(w, name, value)
        assert (w.X, w.K, w.bias) == before[:3] and torch.equal(w.torch_output(), before[3]), name  # nothing half-changed
        assert w.shape == (3, 2, 3, 2)
    X, K = torch.arange(16.0).reshape(1, 4, 4), torch.ones(1, 3, 3)  # one output channel
    w.channel = 2
    with w.hold_trait_notifications():
        w.X, w.K, w.bias = X, K, [0.5]
    assert w.shape == (1, 1, 4, 3) and w.channel == 0
    torch.testing.assert_close(w.torch_output(),
                               F.conv2d(X[None].double(), K[None].double(), torch.tensor([0.5]).double())[0])
    w.X = X + 1  # same shape: taken, and torch's answer follows
    assert w.torch_output()[0, 0, 0] == 0.5 + (X[0, :3, :3] + 1).sum().item()


def test_channel_explorer_defaults_are_the_seed_example():
    w = widgets.ChannelExplorer()
    assert w.torch_output()[0].tolist() == [[56.0, 72.0], [104.0, 120.0]]
    X, K, b = w.tensors()
    assert K.shape == (3, 2, 2, 2)
    torch.testing.assert_close(w.torch_output(), conv.corr2d_multi_in_out(X, K))
    w.padding, w.stride = 1, 2
    torch.testing.assert_close(w.torch_output(), F.conv2d(X[None], K, b, padding=1, stride=2)[0])
    assert (w.Y, w.drawn_output()) == ([], None)
    w.set_state({"Y": w.torch_output().tolist()})  # as a view sends it
    assert torch.equal(w.drawn_output(), w.torch_output())


def test_channel_explorer_validation():
    X = torch.zeros(2, 4, 4)
    with pytest.raises(ValueError, match="X has 2 input channels but K has 3"):
        widgets.ChannelExplorer(X, torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="bias must be 1 finite"):
        widgets.ChannelExplorer(X, torch.zeros(2, 2, 2), bias=[1.0, 2.0])
    with pytest.raises(ValueError, match="kernel 5 does not fit"):
        widgets.ChannelExplorer(torch.zeros(1, 3, 3), torch.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match="position must be 0 to 3"):
        widgets.ChannelExplorer(position=4)  # the default output is 2x2
    with pytest.raises(ValueError, match="channel must be 0 to 0"):
        widgets.ChannelExplorer(X, torch.zeros(2, 2, 2)).channel = 1
    w = widgets.ChannelExplorer(X, torch.ones(2, 3, 3), bias=[0.5])  # (C_in, k, k): one output channel
    assert torch.equal(w.torch_output(), torch.full((1, 2, 2), 0.5, dtype=torch.float64))


def test_kernel_playground_photo_presets_and_shape():
    w = widgets.KernelPlayground()
    photo = data.sample_photo(size=80)
    assert torch.equal(w.image_tensor(), photo)  # 8-bit already: nothing lost in the widget
    assert w.torch_output().shape == (photo.shape[0] - 2, photo.shape[1] - 2)
    assert repr(w) == "KernelPlayground(kernel='Sobel x (vertical edges)', stride=1, padding=0)"
    w.kernel, w.stride, w.padding = "sharpen", 2, 1  # a preset by its name
    assert w.kernel == widgets.PRESETS["sharpen"]
    assert w.torch_output().shape == conv.output_size(tuple(photo.shape), 3, 1, 2)
    torch.testing.assert_close(w.torch_output(), F.conv2d(photo.double()[None, None],
                               torch.tensor(w.kernel, dtype=torch.float64)[None, None], stride=2, padding=1)[0, 0])
    w.kernel = [[0, 0, 0], [0, 2, 0], [0, 0, 0]]
    assert repr(w) == "KernelPlayground(kernel=[[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]], stride=2, padding=1)"
    assert (w.out_shape, w.preset) == ([], "")  # what a view draws, and none has


def test_kernel_playground_validation():
    with pytest.raises(ValueError, match="kernel must be 3x3"):
        widgets.KernelPlayground(kernel=torch.ones(5, 5))
    with pytest.raises(ValueError, match="unknown preset"):
        widgets.KernelPlayground(kernel="emboss")
    with pytest.raises(ValueError, match="unknown preset"):
        widgets.KernelPlayground().kernel = "emboss"
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        widgets.KernelPlayground(image=torch.full((20, 20), 2.0))
    with pytest.raises(ValueError, match="sides must be 8 to 160"):
        widgets.KernelPlayground(image=torch.zeros(4, 50))
    with pytest.raises(ValueError, match="stride must be between 1 and 4"):
        widgets.KernelPlayground(stride=0)


# --------------------------------------------------------------------------
# The static book's runtime (_ext/book_runtime.py)
# --------------------------------------------------------------------------

def _book_runtime():
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[1] / "_ext" / "book_runtime.py"
    spec = importlib.util.spec_from_file_location("book_runtime", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runtime_is_staged_and_config_points_only_at_it(tmp_path):
    import types

    import yaml

    runtime = _book_runtime()
    target = runtime.stage(tmp_path)
    config = yaml.safe_load((runtime.ROOT / "_config.yml").read_text())["sphinx"]["config"]
    pages = types.SimpleNamespace(nb_ipywidgets_js=config["nb_ipywidgets_js"], mathjax_path=config["mathjax_path"])
    runtime.check_pages_use_it(pages, target)  # every script the pages load is a staged file
    # pages load one deferred loader; the full html-manager runtime it falls back to is staged too
    assert config["nb_ipywidgets_js"] == {"cnnbook/widgets/loader.js": {"defer": "defer"}}
    loader = (target / "cnnbook/widgets/loader.js").read_text()
    fallback = re.findall(r'"([\w-]+\.js)"', loader.split("addScripts([", 1)[1].split("]", 1)[0])
    assert fallback == ["require.js", "require-config.js", "embed-amd.js"]
    assert all((target / "cnnbook/widgets" / name).is_file() for name in fallback)
    assert (target / "cnnbook/widgets/anywidget.js").read_text().startswith("// packages/anywidget")
    cdn = types.SimpleNamespace(nb_ipywidgets_js={"https://cdn.example/embed-amd.js": {}}, mathjax_path="x.js")
    with pytest.raises(Exception, match="would load from another site"):
        runtime.check_pages_use_it(cdn, target)


def test_a_missing_runtime_stops_the_build_with_instructions(tmp_path, monkeypatch):
    runtime = _book_runtime()
    monkeypatch.setattr(runtime, "ROOT", tmp_path)  # a checkout where `npm ci` never ran
    with pytest.raises(Exception, match=r"runtime \(widgets, MathJax\) is missing: .*Run `make install`"):
        runtime.stage(tmp_path / "out")


@pytest.mark.parametrize("path", notebooks.chapter_paths(), ids=lambda p: p.name)
def test_chapters_store_the_current_widget_code(path):
    """The static book runs the _esm/_css stored in the notebook, not helpers/widgets/*.js."""
    import nbformat

    state = nbformat.read(path, as_version=4).metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    current = {}
    for model in state.values():
        name = model["state"].get("_anywidget_id", "")
        if not name.startswith("helpers.widgets."):
            continue
        kind = name.rsplit(".", 1)[1]
        if kind not in current:
            fresh = getattr(widgets, kind)()
            current[kind] = (fresh._esm, fresh._css)
        assert (model["state"]["_esm"], model["state"]["_css"]) == current[kind], (
            f"{path.name} stores an older {kind}: re-run `make execute NB=chapters/{path.name}`")


# --------------------------------------------------------------------------
# TransposedExplorer
# --------------------------------------------------------------------------

def test_transposed_explorer_defaults_are_the_chapter_example():
    w = widgets.TransposedExplorer()
    assert w.torch_output().tolist() == [[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]]
    assert (w.Y, w.error, w.drawn_output()) == ([], "", None)
    assert repr(w) == ("TransposedExplorer(n=2, kernel_size=2, stride=1, padding=0, output_padding=0, "
                       "side='input', position=0)")


def test_transposed_explorer_follows_python_changes_like_torch():
    w = widgets.TransposedExplorer(torch.ones(3, 3), torch.ones(3, 3), stride=2)
    assert w.torch_output().shape == (7, 7)
    w.output_padding = 1
    assert w.torch_output().shape == (8, 8)
    w.side, w.position = "output", 63
    w.padding = 1                         # 6 x 6 now: the picked cell moves to the last one
    assert w.position == 35 and w.torch_output().shape == (6, 6)


@pytest.mark.parametrize("kwargs, words", [
    (dict(stride=1, output_padding=1), "output_padding must be smaller"),
    (dict(n=1, kernel_size=1, padding=1), "crops away everything"),
    (dict(stride=4), "stride must be between 1 and 3"),
    (dict(side="middle"), "side must be one of"),
    (dict(position=4), "position must be 0 to 3"),
    (dict(X=torch.ones(2, 3)), "square"),
    (dict(X=torch.ones(3, 3), n=2), "leave n out"),
])
def test_transposed_explorer_refuses_settings_torch_refuses(kwargs, words):
    with pytest.raises(widgets.ExplorerError, match=words):
        widgets.TransposedExplorer(**kwargs)


def test_transposed_explorer_keeps_the_old_value_when_python_sets_a_bad_one():
    w = widgets.TransposedExplorer(stride=2)
    with pytest.raises(widgets.ExplorerError, match="output_padding must be smaller"):
        w.output_padding = 2
    assert w.output_padding == 0
    with pytest.raises(t.TraitError, match="read-only"):
        w.Y = [[1.0]]
