"""NetworkExplorer: the export of a trained module, its refusals, and net_math.js against torch.

net_math.js (what the widget runs in the browser) is executed with Node.js on
the exported weights and compared with the same torch module; the drawing's
preprocessing is compared with helpers.drawing. tests/browser/test_network_explorer_page.py
checks the widget drawn in the built book.
"""

from __future__ import annotations

import base64
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

from helpers import drawing, models, widgets
from helpers.widgets import network_export
from helpers.widgets.network_explorer import MAX_BYTES, NetworkExplorer

NET_JS = pathlib.Path(widgets.__file__).with_name("net_math.js")


def node(script: str, payload=None):
    """Run an ES module script with node, net_math.js imported as m; JSON in, JSON out."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node (Node.js) is needed to test the widgets' JavaScript: apt-get install nodejs")
    prelude = (f"import * as m from {json.dumps(NET_JS.as_uri())};\n"
               "import { readFileSync } from 'node:fs';\n"
               "const input = JSON.parse(readFileSync(0, 'utf8'));\n")
    out = subprocess.run([exe, "--input-type=module", "-e", prelude + script], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """`model` with BatchNorm statistics that are not the defaults (so folding is tested)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model.eval()


def js_logits(model: nn.Module, x: torch.Tensor, dtype: str = "float32") -> torch.Tensor:
    out = network_export.export(model, tuple(x.shape[1:]), dtype)
    script = ("const net = m.buildNet(input.layers, m.decodeWeights(input.weights, input.dtype));\n"
              "console.log(JSON.stringify(input.xs.map((x) => Array.from("
              "m.forward(net, Float64Array.from(x), input.shape).at(-1).data))));")
    got = node(script, {"layers": out.layers, "weights": out.weights, "dtype": dtype,
                        "shape": list(x.shape[1:]), "xs": x.flatten(1).tolist()})
    return torch.tensor(got, dtype=torch.float64)


NETS = {
    "LeNet": lambda: models.LeNet(),
    "LeNet-BN": lambda: models.LeNet(batch_norm=True),
    "sigmoid-avgpool-BN": lambda: nn.Sequential(                     # LeNet-1998-like, with BatchNorm
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10)),
    "SeedsMNISTNet": lambda: models.SeedsMNISTNet(),
    "SmallVGG": lambda: models.SmallVGG(1, 10, widths=(8, 16)),
    "AlexNetSmall": lambda: models.AlexNetSmall(shrink=16),
    "stride-pad-avg": lambda: nn.Sequential(nn.Conv2d(1, 3, (3, 5), stride=(2, 1), padding=(1, 2)), nn.Tanh(),
                                            nn.AvgPool2d(3, stride=2, padding=1), nn.Sigmoid(), nn.Flatten(),
                                            nn.Dropout(0.3), nn.Linear(3 * 7 * 14, 10), nn.BatchNorm1d(10)),
}


@pytest.mark.parametrize("name", NETS)
def test_js_forward_pass_equals_torch(name):
    torch.manual_seed(1)
    model = trained_like(NETS[name]())
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        want = model(x).double()
    got = js_logits(model, x)
    assert (got - want).abs().max() < 1e-4, (got - want).abs().max()


def test_float16_export_halves_the_bytes_and_stays_close():
    torch.manual_seed(0)
    model = models.LeNet().eval()
    full, half = (network_export.export(model, (1, 28, 28), d) for d in ("float32", "float16"))
    assert full.nbytes == 4 * models.count_parameters(model) == 2 * half.nbytes
    assert network_export.decode(half.weights, "float16").dtype == np.float32
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        want = model(x).double()
    assert (js_logits(model, x, "float16") - want).abs().max() < 1e-2


def test_export_is_compact_bytes_and_exact_for_lenet():
    torch.manual_seed(0)
    model = models.LeNet()
    out = network_export.export(model, (1, 28, 28))
    assert isinstance(out.weights, str) and len(base64.b64decode(out.weights)) == out.nbytes == 61_706 * 4
    assert [l["type"] for l in out.layers] == ["conv", "relu", "maxpool", "conv", "relu", "maxpool",
                                                "flatten", "linear", "relu", "linear", "relu", "linear"]
    assert [l["shape"] for l in out.layers][:3] == [[6, 28, 28], [6, 28, 28], [6, 14, 14]]
    w = network_export.decode(out.weights, "float32")
    o, n = out.layers[0]["w"]
    assert np.array_equal(w[o:o + n], model.features[0].weight.detach().numpy().ravel())
    twin = network_export.load_into(models.LeNet(), out.layers, w)
    assert all(torch.equal(a, b) for a, b in zip(twin.state_dict().values(), model.state_dict().values()))
    assert model.training  # the caller's model keeps its mode


def test_batch_norm_is_folded_into_the_layer_before():
    model = trained_like(models.LeNet(batch_norm=True))
    out = network_export.export(model, (1, 28, 28))
    assert "affine" not in [l["type"] for l in out.layers]
    assert out.layers[0]["folded"] == "features.1"


@pytest.mark.parametrize("module, message", [
    (models.ResidualBlock(1, 4), r"ResidualBlock at '\(the model\)'.*skip connection"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2)), r"Conv2d at '0'.*dilation"),
    (nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 3, groups=1), nn.Conv2d(4, 4, 3, groups=2))),
     r"Conv2d at '0.1'.*groups=2"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.LocalResponseNorm(2)), r"LocalResponseNorm at '1'.*not supported"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU()), r"GELU at '1'"),
    (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), r"MaxPool2d at '0'.*ceil_mode"),
])
def test_modules_the_browser_cannot_run_are_refused_by_type_and_path(module, message):
    with pytest.raises(ValueError, match=message):
        network_export.export(module, (1, 28, 28))


def test_explorer_refuses_a_model_too_heavy_or_with_the_wrong_output():
    with pytest.raises(ValueError, match=r"1,769,528 bytes as float32.*float16"):
        NetworkExplorer(models.SeedsMNISTNet())
    with pytest.raises(ValueError, match="not one per class"):
        NetworkExplorer(models.LeNet(num_classes=5))
    with pytest.raises(ValueError, match="GELU at 'features.1'"):
        bad = models.LeNet()
        bad.features[1] = nn.GELU()
        NetworkExplorer(bad)


def test_explorer_state_and_live_update():
    torch.manual_seed(0)
    model = models.LeNet()
    samples = (torch.rand(4, 28, 28) * 255).to(torch.uint8)
    w = NetworkExplorer(model, mean=0.13, std=0.31, samples=samples, sample_labels=[1, 2, 3, 4], sample=2)
    assert w.architecture == "LeNet" and w.dtype == "float32" and w.sample == 2
    assert len(w.weights) * 3 // 4 <= MAX_BYTES
    assert torch.equal(w.sample_images(), samples.float() / 255)
    before = w.weights
    seen = []
    w.observe(lambda change: seen.append(change["name"]), names=["weights"])
    with torch.no_grad():
        model.features[0].weight.mul_(2)
    w.update_model(model)
    assert w.weights != before and seen == ["weights"]
    o, n = w.layers[0]["w"]
    assert np.array_equal(w.weight_array()[o:o + n], model.features[0].weight.detach().numpy().ravel())
    with pytest.raises(ValueError, match="sample must be -1"):
        w.sample = 4
    with pytest.raises(ValueError, match="one label"):
        NetworkExplorer(model, samples=samples, sample_labels=[1])


# --------------------------------------------------------------------------
# The drawing's preprocessing: Python (helpers.drawing) and JavaScript agree
# --------------------------------------------------------------------------

def strokes(seed: int, size: int = 120) -> torch.Tensor:
    """A blotchy fake 'drawing': a few filled rectangles of ink at random places."""
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(size, size, dtype=torch.float64)
    for _ in range(4):
        r, c = torch.randint(0, size - 10, (2,), generator=g).tolist()
        h, w = torch.randint(3, 40, (2,), generator=g).tolist()
        img[r:r + h, c:c + w] = torch.rand(1, generator=g).item() * 0.8 + 0.2
    return img


def test_center_digit_fits_20_pixels_and_centres_the_mass():
    ink = torch.zeros(100, 60, dtype=torch.float64)
    ink[10:90, 20:40] = 1.0                                   # a bar, 80 tall and 20 wide
    out = drawing.center_digit(ink)
    rows, cols = (out > 0).any(1).nonzero()[:, 0], (out > 0).any(0).nonzero()[:, 0]
    assert out.shape == (28, 28) and len(rows) == 20 and len(cols) == 5
    cy, cx = drawing.center_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5   # MNIST's centre, field // 2
    with pytest.raises(ValueError, match="no ink"):
        drawing.center_digit(torch.zeros(10, 10))


def test_js_center_digit_equals_python():
    images = [strokes(s) for s in range(8)]
    got = node("console.log(JSON.stringify(input.map((img) => Array.from("
               "m.centerDigit(Float64Array.from(img.flat()), img.length, img[0].length)))));",
               [img.tolist() for img in images])
    for img, js in zip(images, got):
        want = drawing.center_digit(img).flatten()
        assert torch.allclose(torch.tensor(js, dtype=torch.float64), want, atol=1e-12)


def test_js_area_resize_and_receptive_field():
    img = torch.rand(13, 9, dtype=torch.float64)
    js = node("console.log(JSON.stringify(Array.from(m.areaResize(Float64Array.from(input), 13, 9, 5, 4))));",
              img.flatten().tolist())
    want = torch.nn.functional.adaptive_avg_pool2d(img[None, None], (5, 4)).flatten()
    assert torch.allclose(torch.tensor(js, dtype=torch.float64), want, atol=1e-12)
    out = network_export.export(models.LeNet(), (1, 28, 28))
    # LeNet: conv5 p2, pool2, conv5, pool2: one unit after the second pool sees 16x16 input pixels
    fields = node("const net = input; console.log(JSON.stringify([m.receptiveField(net, 0, 0, 0),"
                  " m.receptiveField(net, 5, 0, 0), m.receptiveField(net, 5, 4, 4)]));", out.layers)
    assert fields == [[[-2, 2], [-2, 2]], [[-2, 13], [-2, 13]], [[14, 29], [14, 29]]]


def test_bundle_is_a_self_contained_module(tmp_path):
    source = NetworkExplorer._esm
    assert "from \"./" not in source
    path = tmp_path / "bundle.mjs"
    path.write_text(source)
    kinds = node(f"const b = await import({json.dumps(path.as_uri())});"
                 "console.log(JSON.stringify([typeof b.default.render, typeof b.centerDigit]));")
    assert kinds == ["function", "function"]
    assert ".cnnw-network" in NetworkExplorer._css or ".cnnw-pad-canvas" in NetworkExplorer._css


# --------------------------------------------------------------------------
# Failing well: each mistake is named for what it is
# --------------------------------------------------------------------------

@pytest.mark.parametrize("shape, words", [
    ((1, 32, 32), r"LeNet cannot run on an input of input_shape \(1, 32, 32\).*cannot be multiplied"),
    ((3, 28, 28), r"LeNet cannot run on an input of input_shape \(3, 28, 28\).*channels"),
    ((28, 28), "input_shape must be three positive ints"),
    ((1, 0, 28), "input_shape must be three positive ints"),
])
def test_a_wrong_input_shape_is_blamed_on_the_shape_not_on_a_skip_connection(shape, words):
    with pytest.raises(ValueError, match=words) as err:
        network_export.export(models.LeNet(), shape)
    assert "skip connection" not in str(err.value)


def test_float16_export_refuses_weights_it_cannot_hold():
    model = models.LeNet().eval()
    with torch.no_grad():
        model.classifier[-1].weight[3, 7] = 1e5
    with pytest.raises(ValueError, match=r"'classifier.5' reach 100,000, beyond float16's largest value, "
                                         r"65,504; export them as float32"):
        network_export.export(model, (1, 28, 28), "float16")
    assert network_export.export(model, (1, 28, 28), "float32").nbytes == 61_706 * 4
    with torch.no_grad():
        model.features[0].bias[0] = float("nan")
    with pytest.raises(ValueError, match="'features.0' are not all finite"):
        network_export.export(model, (1, 28, 28))


def test_float16_overflow_after_folding_batch_norm_is_named_too():
    model = trained_like(nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.BatchNorm1d(10)))
    with torch.no_grad():
        model[2].weight.fill_(1e3)                            # folding multiplies the Linear by
        model[2].running_var.fill_(1e-12)                     # weight / sqrt(var + eps): about 3e5
    with pytest.raises(ValueError, match=r"'1' \(BatchNorm folded in\) reach .*float16"):
        network_export.export(model, (1, 28, 28), "float16")


class Doubled(nn.Conv2d):
    """A subclass whose forward differs from Conv2d's: exporting it as a Conv2d would be wrong."""

    def forward(self, x):
        return 2 * super().forward(x)


class SkipSequential(nn.Sequential):
    def forward(self, x):
        return super().forward(x) + x


@pytest.mark.parametrize("module, words", [
    (nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), models.Subsampling(6)),
     r"Subsampling at '2'.*subclass of AvgPool2d.*only AvgPool2d itself"),
    (models.LeNet1998(activation="sigmoid"), r"Subsampling at 'features.2'"),
    (nn.Sequential(Doubled(1, 2, 3)), r"Doubled at '0'.*subclass of Conv2d"),
    (SkipSequential(nn.ReLU()), r"SkipSequential at '\(the model\)'.*skip connection"),
])
def test_a_subclass_of_a_supported_layer_is_refused_by_name(module, words):
    with pytest.raises(ValueError, match=words):
        network_export.export(module, (1, 28, 28))


def test_a_subclass_of_sequential_that_only_chains_is_still_exported():
    block = trained_like(models.ConvBNReLU(1, 4, 3, order="conv-bn-relu"))   # an nn.Sequential subclass
    with torch.no_grad():
        n = block(torch.zeros(1, 1, 28, 28)).numel()
    model = nn.Sequential(block, nn.Flatten(), nn.Linear(n, 10)).eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        want = model(x).double()
    assert (js_logits(model, x) - want).abs().max() < 1e-4


def test_the_explorer_refuses_a_nan_std_or_mean_and_says_so():
    for kwargs, words in (({"std": float("nan")}, "std must be a finite number"),
                          ({"std": 0.0}, "std must be positive"),
                          ({"mean": float("inf")}, "mean must be a finite number"),
                          ({"mean": "0.1"}, "mean must be a number")):
        with pytest.raises(ValueError, match=words):
            NetworkExplorer(**kwargs)


def test_a_model_that_does_nothing_is_refused_without_an_index_error():
    with pytest.raises(ValueError, match=r"ends in \[1, 28, 28\] values, not one per class \(10\)"):
        NetworkExplorer(nn.Sequential(nn.Dropout()))


@pytest.mark.parametrize("name, value, words", [
    ("input_shape", [3, 32, 32], "input_shape must be \\(1, 28, 28\\)"),
    ("classes", ["a", "b"], "10 outputs, so classes needs 10 names, got 2"),
    ("weights", "AAAA", "weights is written by update_model"),
    ("layers", [], "layers is written by update_model"),
    ("dtype", "float16", "dtype is written by update_model"),
    ("std", float("nan"), "std must be a finite number"),
    ("std", -1.0, "std must be positive"),
    ("mean", float("nan"), "mean must be a finite number"),
])
def test_changes_after_construction_are_checked_and_leave_the_old_value(name, value, words):
    w = NetworkExplorer(models.LeNet(), mean=0.13, std=0.31)
    before = getattr(w, name)
    with pytest.raises(ValueError, match=words):
        setattr(w, name, value)
    assert getattr(w, name) == before


def test_what_may_change_after_construction_still_can():
    w = NetworkExplorer(models.LeNet(), samples=torch.zeros(2, 28, 28, dtype=torch.uint8), sample_labels=[3, 9])
    w.classes = list("abcdefghij")                         # renamed, as many as before
    w.std, w.mean = 0.5, 0.1
    w.update_model(models.LeNet(), dtype="float16")        # the one writer of the model's traits
    assert (w.dtype, w.std, w.classes[0]) == ("float16", 0.5, "a")
    with pytest.raises(ValueError, match=r"ends in \[10\] values, not one per class \(3\)"):
        NetworkExplorer(models.LeNet(), classes=list("abc"))
