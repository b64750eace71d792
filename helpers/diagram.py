"""Block diagrams drawn from the modules themselves (chapter 11).

``block(module, (3, 32, 32))`` traces the module with ``torch.fx``: every layer
its ``forward`` calls (a leaf module such as Conv2d or ReLU) and every operation
written in ``forward`` (``torch.cat``, ``+``) becomes a box, and every tensor
passed from one to another an arrow. One forward pass on zeros writes each
box's output shape (C, H, W) under its name. Nothing is typed in by hand, so a
diagram cannot drift from the code it shows.

Layout, top to bottom: a box's row is the length of the longest path from the
input to it. Each box continues the lane (column) of its deepest input; a
second reader of the same tensor starts a new lane, so parallel branches stand
side by side. Boxes that every path passes through (the input, a merge, the
output) sit in the middle. An arrow runs down its own lane and across in the
gap above its target, or, if boxes stand in its lane, around them on the right
(a dense block's shortcuts). Sizes are in inches, one data unit per inch; each
artist carries a gid ("box:name", "text:name", "edge:source->target") that
tests read back.
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from helpers import plot

MAX_NODES = 40               # more boxes than this is a network, not a block: too tall to read
FONT = plot.MIN_FONT + 1     # points
BOX_W, BOX_H = 1.25, 0.30    # inches: two lines of FONT-point text fit
LANE, ROW = 1.42, 0.42       # inches between lane centres and between row centres
PAD = 0.12                   # inches of border; also how far a detour runs beside the boxes
COLOURS = {"input": "#e5e7eb", "output": "#e5e7eb", "weighted": "#cfe2ff", "norm": "#e9d8fd",
           "activation": "#d1f2dc", "pool": "#fde9c4", "merge": "#fcd0b4", "other": "#f3f4f6"}


@dataclass(frozen=True)
class Node:
    """One box: a layer or an operation of the traced forward."""
    name: str                       # the fx node's name, unique: "b2_1_0", "cat", "add"
    label: str                      # what the box says: "conv 3×3/2", "concatenate"
    kind: str                       # picks the colour: a key of COLOURS
    shape: tuple[int, ...] | None   # output shape without the batch dimension; None if no tensor
    inputs: tuple[str, ...]         # names of the nodes it reads, in argument order
    path: str | None = None         # the module's name in the block ("b2.1.0") for a layer


@dataclass(frozen=True)
class Graph:
    """The traced block: nodes in the order forward computes them."""
    nodes: tuple[Node, ...]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(source, target) name pairs, one per tensor a node reads."""
        return [(i, n.name) for n in self.nodes for i in n.inputs]

    def __getitem__(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


def _layer_label(m: nn.Module) -> tuple[str, str]:
    """(label, kind) of a leaf module. "3×3/2" is a 3×3 window with stride 2, as in GoogLeNet's
    table; a convolution's stride is written only when it is not 1, a pool's always."""
    def pair(v) -> str:
        v = v if isinstance(v, tuple) else (v, v)
        return "×".join(map(str, v))

    if isinstance(m, nn.Conv2d):
        label = f"conv {pair(m.kernel_size)}" + (f"/{m.stride[0]}" if m.stride != (1, 1) else "")
        return label + (f", groups {m.groups}" if m.groups > 1 else ""), "weighted"
    if isinstance(m, nn.Linear):
        return f"dense {m.in_features}→{m.out_features}", "weighted"
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "batch norm", "norm"
    if isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid)):
        return type(m).__name__, "activation"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = m.stride[0] if isinstance(m.stride, tuple) else m.stride
        kind = "max" if isinstance(m, nn.MaxPool2d) else "avg"
        return f"{kind} pool {pair(m.kernel_size)}/{stride}", "pool"
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return "global avg pool", "pool"
    if isinstance(m, nn.Identity):
        return "identity", "other"
    return type(m).__name__, "other"


FUNCTIONS = {torch.cat: "concatenate", operator.add: "add (+)", torch.add: "add (+)",
             operator.mul: "multiply (×)", torch.flatten: "flatten"}


def _describe(node: fx.Node, gm: fx.GraphModule) -> tuple[str, str, str | None]:
    """(label, kind, module path) of an fx node."""
    if node.op == "placeholder":
        return "input", "input", None
    if node.op == "output":
        return "output", "output", None
    if node.op == "call_module":
        return (*_layer_label(gm.get_submodule(node.target)), node.target)
    name = FUNCTIONS.get(node.target, getattr(node.target, "__name__", str(node.target)))
    merge = len(node.all_input_nodes) > 1
    return name, "merge" if merge else "other", None


def graph(module: nn.Module, input_shape: tuple[int, ...]) -> Graph:
    """Trace `module` with torch.fx and run it on zeros of shape (1, *input_shape) for the shapes.

    input_shape is one sample's shape, e.g. (C, H, W). The module is copied and
    run in eval mode, so the reader's module is left as it was. ValueError if
    torch.fx cannot trace it, it does not take that input, or it is too big to draw.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"diagram.graph draws an nn.Module, got {type(module).__name__}")
    if not (isinstance(input_shape, (tuple, list)) and input_shape
            and all(isinstance(s, int) and s >= 1 for s in input_shape)):
        raise ValueError(f"input_shape must be one sample's shape as positive ints, such as "
                         f"(3, 32, 32); got {input_shape!r}")
    what = type(module).__name__
    try:
        gm = fx.symbolic_trace(copy.deepcopy(module).eval())
    except Exception as err:   # fx raises several kinds (TraceError, TypeError, ...)
        raise ValueError(f"torch.fx cannot trace {what}, so it cannot be drawn: {err}. A forward "
                         "that branches on tensor values cannot be traced; draw its parts "
                         "instead.") from err
    nodes = list(gm.graph.nodes)
    if sum(n.op == "placeholder" for n in nodes) != 1:
        raise ValueError(f"{what}'s forward takes {sum(n.op == 'placeholder' for n in nodes)} "
                         "arguments; diagram draws blocks with one input tensor")
    if len(nodes) > MAX_NODES:
        raise ValueError(f"{what} has {len(nodes)} layers and operations, too many to draw "
                         f"readably (at most {MAX_NODES}); draw its blocks one at a time")
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
    except Exception as err:
        raise ValueError(f"{what} does not accept an input of shape {tuple(input_shape)}: "
                         f"{err}") from err
    out = []
    for n in nodes:
        meta = n.meta.get("tensor_meta")
        shape = tuple(meta.shape[1:]) if hasattr(meta, "shape") else None
        label, kind, path = _describe(n, gm)
        out.append(Node(n.name, label, kind, shape, tuple(i.name for i in n.all_input_nodes), path))
    return Graph(tuple(out))


# --------------------------------------------------------------------------- layout


def _layout(g: Graph) -> tuple[dict[str, tuple[float, int]], int]:
    """({name: (lane, row)}, number of lanes); a box centred across lanes has a fractional lane."""
    row: dict[str, int] = {}
    for n in g.nodes:                               # fx order is a topological order
        row[n.name] = 1 + max((row[i] for i in n.inputs), default=-1)
    lane: dict[str, float] = {}
    continued: set[str] = set()                     # nodes whose lane a successor took already
    lanes = 0
    for n in g.nodes:
        deepest = max(n.inputs, key=row.__getitem__, default=None)
        if deepest is not None and deepest not in continued:
            lane[n.name] = lane[deepest]
            continued.add(deepest)
        else:
            lane[n.name], lanes = lanes, lanes + 1
    # Boxes on every path from input to output sit in the middle: count the paths.
    into = {n.name: 1 if not n.inputs else 0 for n in g.nodes}
    for n in g.nodes:
        for i in n.inputs:
            into[n.name] += into[i]
    out_of = {n.name: 0 for n in g.nodes}
    out_of[g.nodes[-1].name] = 1                    # the output node comes last
    for n in reversed(g.nodes):
        for i in n.inputs:
            out_of[i] += out_of[n.name]
    total = into[g.nodes[-1].name]
    for n in g.nodes:
        if into[n.name] * out_of[n.name] == total:
            lane[n.name] = (lanes - 1) / 2
    return {name: (lane[name], row[name]) for name in row}, lanes


def size(g: Graph) -> tuple[float, float]:
    """(width, height) in inches that the drawing of `g` takes."""
    at, lanes = _layout(g)
    rows = 1 + max(r for _, r in at.values())
    return lanes * LANE + 2 * PAD, rows * ROW + 2 * PAD


def _route(g: Graph, centre: dict[str, tuple[float, float]], u: str, v: str) -> list[tuple]:
    """The points an arrow from box u to box v runs through (inches)."""
    (xu, yu), (xv, yv) = centre[u], centre[v]
    def towards(d, arrows):     # a box with several arrows on one side spreads them out
        return max(-BOX_W / 3, min(BOX_W / 3, d)) if arrows > 1 else 0.0
    outgoing, incoming = sum(e[0] == u for e in g.edges), len(g[v].inputs)
    start = (xu + towards(xv - xu, outgoing), yu - BOX_H / 2)
    end = (xv + towards(xu - xv, incoming), yv + BOX_H / 2)
    between = [c for n, c in centre.items() if n not in (u, v) and yv < c[1] < yu]
    if not any(abs(x - xu) < BOX_W for x, _ in between):   # down its own lane
        if abs(start[0] - end[0]) < 1e-9:
            return [start, end]
        above = end[1] + 0.6 * (ROW - BOX_H)               # across in the gap above v, then down
        return [start, (start[0], above), (end[0], above), end]
    side = max(xu, xv) + BOX_W / 2 + PAD            # boxes in the way: around them, on the right
    return [(xu + BOX_W / 2, yu), (side, yu), (side, yv), (xv + BOX_W / 2, yv)]


def block(module: nn.Module, input_shape: tuple[int, ...], ax=None, title: str | None = None):
    """Draw a block's data flow: one box per layer or operation, with its output shape.

    input_shape is one sample's (C, H, W). Without `ax`, a figure of the size
    the drawing needs (`size(graph(...))` inches, at most plot.COLUMN wide) is
    made; a given ax should be at least that big, or the text overflows its
    boxes. Returns the Axes.
    """
    g = graph(module, input_shape)
    width, height = size(g)
    if width > plot.COLUMN:
        raise ValueError(f"{type(module).__name__} has branches side by side {width:.1f} inches "
                         f"wide, more than the page's {plot.COLUMN}")
    if ax is None:                                  # one data unit = one inch, room for the title
        fig = plt.figure(figsize=(width, height + (0.3 if title else 0)))
        ax = fig.add_axes((0, 0, 1, height / fig.get_figheight()))
    at, _ = _layout(g)
    top = height - PAD - ROW / 2
    centre = {name: (PAD + (lane + 0.5) * LANE, top - r * ROW) for name, (lane, r) in at.items()}
    for n in g.nodes:
        x, y = centre[n.name]
        ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                    boxstyle="round,pad=0,rounding_size=0.05", lw=0.8,
                                    facecolor=COLOURS[n.kind], edgecolor="#4b5563",
                                    gid=f"box:{n.name}"))
        shape = "" if n.shape is None else "\n" + str(n.shape)
        ax.text(x, y, n.label + shape, ha="center", va="center", fontsize=FONT,
                linespacing=1.15, gid=f"text:{n.name}")
    for u, v in g.edges:
        ax.add_patch(FancyArrowPatch(path=Path(_route(g, centre, u, v)), arrowstyle="-|>",
                                     mutation_scale=8, lw=0.9, color="#374151",
                                     gid=f"edge:{u}->{v}"))
    ax.set(xlim=(0, width), ylim=(0, height), aspect="equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
