"""helpers.diagram: what is drawn is the block's code, checked against the module itself."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import fx, nn  # noqa: E402

from helpers import diagram, models, plot  # noqa: E402

# The blocks chapter 11 draws, with its input shapes.
BLOCKS = {
    "VGGBlock": (lambda: models.VGGBlock(3, 32, convs=2), (3, 32, 32)),
    "NiNBlock": (lambda: models.NiNBlock(3, 64, kernel_size=5, padding=2), (3, 32, 32)),
    "Inception": (lambda: models.Inception(192, 64, (96, 128), (16, 32), 32), (192, 28, 28)),
    "ResidualBlock": (lambda: models.ResidualBlock(64, 64), (64, 16, 16)),
    "Bottleneck": (lambda: models.Bottleneck(256, 128, 512, stride=2), (256, 16, 16)),
    "DenseBlock": (lambda: models.DenseBlock(24, 12, 4), (24, 32, 32)),
    "Transition": (lambda: models.Transition(72, 36), (72, 32, 32)),
}


def drawn(ax):
    """What the Axes shows: {name: [label, shape text]}, {name: box}, {(u, v): [polyline, ...]}
    (an arrow's line and its head)."""
    texts = {t.get_gid()[5:]: t.get_text().split("\n") for t in ax.texts
             if (t.get_gid() or "").startswith("text:")}
    boxes = {p.get_gid()[4:]: p for p in ax.patches if (p.get_gid() or "").startswith("box:")}
    edges = {tuple(p.get_gid()[5:].split("->")): p.get_path().to_polygons(closed_only=False)
             for p in ax.patches if (p.get_gid() or "").startswith("edge:")}
    return texts, boxes, edges


def hooked_shapes(module, input_shape):
    """{module path: output shape} from forward hooks on the leaf modules: no fx involved."""
    shapes, module = {}, module.eval()
    def record(name):
        return lambda m, args, out: shapes.update({name: tuple(out.shape[1:])})
    for name, m in module.named_modules():
        if not list(m.children()):
            m.register_forward_hook(record(name))
    with torch.no_grad():
        out = module(torch.zeros(1, *input_shape))
    return shapes, tuple(out.shape[1:])


@pytest.fixture(params=list(BLOCKS))
def case(request):
    make, shape = BLOCKS[request.param]
    ax = diagram.block(make(), shape)
    yield make, shape, ax
    plt.close("all")


def test_drawn_boxes_and_arrows_are_the_traced_graph(case):
    make, shape, ax = case
    traced = fx.symbolic_trace(make())
    texts, boxes, edges = drawn(ax)
    assert set(boxes) == set(texts) == {n.name for n in traced.graph.nodes}
    assert set(edges) == {(i.name, n.name) for n in traced.graph.nodes for i in n.all_input_nodes}


def test_every_layer_is_one_box_whose_shape_a_forward_pass_gives(case):
    make, shape, ax = case
    texts, _, _ = drawn(ax)
    g = diagram.graph(make(), shape)
    shapes, out = hooked_shapes(make(), shape)
    layers = [n for n in g.nodes if n.path is not None]
    assert sorted(n.path for n in layers) == sorted(shapes)        # every leaf module, once
    for n in layers:
        assert texts[n.name][1] == str(shapes[n.path]), n.path
    assert texts["output"] == ["output", str(out)]
    assert texts[g.nodes[0].name] == ["input", str(shape)]
    convs = sum(isinstance(m, nn.Conv2d) for m in make().modules())
    assert sum(label.startswith("conv ") for label, *_ in texts.values()) == convs


def test_no_arrow_crosses_a_box_and_no_boxes_overlap(case):
    _, _, ax = case
    _, boxes, edges = drawn(ax)
    rects = {n: (b.get_x(), b.get_y(), b.get_x() + b.get_width(), b.get_y() + b.get_height())
             for n, b in boxes.items()}
    for (u, v), lines in edges.items():
        for a, b in ((a, b) for line in lines for a, b in zip(line[:-1], line[1:])):
            for t in np.linspace(0, 1, 60):
                x, y = a + t * (b - a)
                for n, (x0, y0, x1, y1) in rects.items():
                    inside = x0 + 0.01 < x < x1 - 0.01 and y0 + 0.01 < y < y1 - 0.01
                    assert not inside, f"arrow {u}->{v} runs through box {n}"
    names = list(rects)
    for i, p in enumerate(names):
        for q in names[i + 1:]:
            a, b = rects[p], rects[q]
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (p, q)


def test_figures_fit_the_page_and_their_text_is_readable(case):
    _, _, ax = case
    width, _ = ax.figure.get_size_inches()
    assert width <= plot.COLUMN
    assert all(t.get_fontsize() >= plot.MIN_FONT for t in ax.texts)


def test_inception_concatenates_its_four_branches():
    block = models.Inception(192, 64, (96, 128), (16, 32), 32)
    ax = diagram.block(block, (192, 28, 28))
    texts, _, edges = drawn(ax)
    g = diagram.graph(block, (192, 28, 28))
    cats = [name for name, (label, _) in texts.items() if label == "concatenate"]
    assert len(cats) == 1
    sources = [u for u, v in edges if v == cats[0]]
    assert sorted(g[u].path.split(".")[0] for u in sources) == ["b1", "b2", "b3", "b4"]
    assert texts[cats[0]][1] == str((block.out_channels, 28, 28)) == "(256, 28, 28)"
    plt.close("all")


@pytest.mark.parametrize("make, shape, shortcut", [
    (lambda: models.ResidualBlock(64, 64), (64, 16, 16), "identity"),
    (lambda: models.Bottleneck(256, 128, 512, stride=2), (256, 16, 16), "batch norm"),
])
def test_residual_blocks_add_the_shortcut_to_the_residual_path(make, shape, shortcut):
    ax = diagram.block(make(), shape)
    texts, _, edges = drawn(ax)
    g = diagram.graph(make(), shape)
    add = next(name for name, (label, _) in texts.items() if label == "add (+)")
    into = {g[u].path: texts[u][0] for u, v in edges if v == add}
    last_bn = max(p for p in into if p.startswith("residual."))
    assert into[last_bn] == "batch norm"                       # F(x)'s last layer
    short = next(p for p in into if p.startswith("shortcut"))
    assert into[short] == shortcut                             # the shortcut path's last layer
    walk = short                                               # ... which reads the input x
    node = next(n for n in g.nodes if n.path == walk)
    while node.inputs[0] != g.nodes[0].name:
        node = g[node.inputs[0]]
        assert node.path.startswith("shortcut")
    after = [v for u, v in edges if u == add]
    assert [texts[v][0] for v in after] == ["ReLU"]            # relu(F(x) + shortcut(x))
    plt.close("all")


def test_dense_block_concatenates_each_layer_to_everything_before_it():
    ax = diagram.block(models.DenseBlock(24, 12, 3), (24, 32, 32))
    texts, _, edges = drawn(ax)
    cats = [name for name, (label, _) in texts.items() if label == "concatenate"]
    assert [texts[c][1] for c in cats] == ["(36, 32, 32)", "(48, 32, 32)", "(60, 32, 32)"]
    reads = ["x", *cats]
    for i, c in enumerate(cats):                               # cat i reads the block's x or
        sources = {u for u, v in edges if v == c}              # cat i - 1, and layer i's conv
        assert reads[i] in sources and len(sources) == 2
        assert f"layers_{i}_2" in sources
    plt.close("all")


def test_the_readers_module_is_left_as_it_was():
    block = models.ResidualBlock(8, 8).train()
    before = {k: v.clone() for k, v in block.state_dict().items()}
    diagram.block(block, (8, 6, 6))
    assert block.training
    assert all(torch.equal(before[k], v) for k, v in block.state_dict().items())
    plt.close("all")


class Branchy(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x          # decided by a value: fx cannot trace it


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="cannot trace Branchy"):
        diagram.block(Branchy(), (1, 4, 4))
    with pytest.raises(ValueError, match=re.escape("does not accept an input of shape (3, 8, 8)")):
        diagram.block(models.VGGBlock(4, 8), (3, 8, 8))
    with pytest.raises(ValueError, match="too many"):
        diagram.block(models.ResNetSmall(), (3, 32, 32))
    with pytest.raises(ValueError, match="input_shape"):
        diagram.block(models.VGGBlock(3, 8), (3, 0, 8))
    with pytest.raises(TypeError, match="nn.Module"):
        diagram.graph("VGGBlock", (3, 8, 8))
