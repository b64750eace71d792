"""A layer-by-layer table of a model: output shapes, parameters, MACs, receptive fields.

``summarize(model, (3, 224, 224))`` runs the model once, in eval mode and under
``torch.no_grad()``, on a zero input of shape ``(1, 3, 224, 224)``. Forward
hooks on the leaf modules (modules without children) record one row per call,
in the order the layers run. Nothing is traced or parsed: what a hook cannot
see (a ``torch.cat`` or ``+`` written in a ``forward``) is reported as unknown,
never guessed.

Conventions, chosen to match torchvision (whose model docs list MACs under the
name "GFLOPS"):

* **MACs** (multiply-accumulates) per sample. ``ConvNd``: output elements x
  ``in_channels / groups`` x kernel area; bias additions are not counted.
  ``Linear``: output elements x ``in_features``. Pooling, activations, dropout,
  flatten, identity, LocalResponseNorm and BatchNorm count 0 (BatchNorm in
  eval mode is a per-channel scale and shift; like torchvision we do not count
  it). Any other leaf type gets ``None`` ("?" in the table), and the total then
  says that it leaves those layers out.
* **Parameters** are a module's own ``nn.Parameter``s, each counted once: in the
  row of the first call that uses it. A module called twice gets two rows
  (its MACs count twice, since the work is done twice) and the second row
  shows its parameters as ``shared``; weights tied between two modules are
  counted with the first module that runs. BatchNorm's running mean and
  variance are buffers, not parameters, so they are not counted.
* **Receptive field** (``rf``) and **jump** (the distance, in input pixels,
  between neighbouring output positions), per spatial axis::

      k_eff = dilation * (kernel_size - 1) + 1
      rf_out = rf_in + (k_eff - 1) * jump_in
      jump_out = jump_in * stride

  starting from rf 1, jump 1 at the input. Padding moves the windows but does
  not change either number, and ``rf`` is not clipped to the image (it can
  exceed the input when padding is used). Layers that act on each position
  separately (activations, BatchNorm, dropout, LocalResponseNorm) keep both.
  ``Flatten`` keeps each feature's ``rf`` but ends the grid (jump "-"); a
  ``Linear`` layer reading a flat vector sees every feature, so its ``rf`` is
  ``"all"``, as is a global pool (adaptive pool to size 1). An adaptive pool
  whose output size divides its input size is an ordinary pool with kernel =
  stride = input / output; any other ratio has windows of unequal size and
  spacing, so rf and jump become unknown.
* **Branches.** The receptive field is followed along tensors that leaf modules
  produce (and reshaped views of them, such as ``torch.flatten(x, 1)``). A
  tensor made by the ``forward`` itself (``torch.cat`` in an Inception block,
  the in-place ``out += identity`` in a ResNet block) has no single receptive
  field the hooks could know, so from the first such merge on, every layer that
  depends on it shows "-". Layers inside a branch, before the merge, are exact.
  A functional call in a ``forward`` counts as such a merge too: torchvision's
  GoogLeNet applies ``F.relu(x, inplace=True)`` after every conv, so its table
  shows "-" from the first pooling layer on. A global pool is ``"all"`` even
  after a merge, since it reads every position of its input.

When the model fails (an input too small for a window, a wrong channel count),
torch's own error is raised again as a ``ValueError`` that adds the input shape
and the layer it failed in (``"in features.12 (MaxPool2d): ..."``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from helpers import checks

__all__ = ["LayerRow", "Summary", "summarize"]

ALL = "all"  # the receptive field covers the whole input

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
# Layers that act on every position on its own: 0 MACs, receptive field unchanged.
_POINTWISE = _BATCHNORMS + (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Softplus, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.Identity, nn.LocalResponseNorm,
)
_SOFTMAXES = (nn.Softmax, nn.LogSoftmax)  # 0 MACs; mix positions unless the input is flat
_ZERO_MACS = _POOLS + _ADAPTIVE + _POINTWISE + _SOFTMAXES + (nn.Flatten,)


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerRow:
    """One call of one leaf module.

    ``output_shape`` leaves out the batch axis, e.g. ``(64, 55, 55)``.
    ``macs`` is ``None`` for layer types whose cost is unknown. ``rf`` is a
    tuple with one size per spatial axis, ``"all"``, or ``None`` (unknown or
    meaningless); ``jump`` is a tuple per axis, or ``None`` once there is no
    grid. ``call`` numbers repeated calls of the same module (1, 2, ...), and
    ``shared`` is true when this row's parameters were counted in an earlier row.
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    macs: int | None
    rf: tuple[int, ...] | str | None
    jump: tuple[int, ...] | None
    call: int = 1
    shared: bool = False

    @property
    def label(self) -> str:
        """The name as the table shows it: ``(model)`` for the root, ``(call 2)`` for repeats."""
        label = self.name or "(model)"
        return label if self.call == 1 else f"{label} (call {self.call})"

    def cells(self) -> dict[str, str]:
        """The row as display strings, keyed by column title."""
        if self.shared and self.params == 0:
            params = "shared"
        else:
            params = f"{self.params:,}"
        return {
            "Layer": self.label,
            "Type": self.type,
            "Output shape": _shape(self.output_shape),
            "Params": params,
            "MACs": "?" if self.macs is None else f"{self.macs:,}",
            "RF": _axes(self.rf),
            "Jump": _axes(self.jump),
        }


_COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "RF", "Jump")
_NUMERIC = {"Params", "MACs", "RF", "Jump"}  # right-aligned


@dataclass(frozen=True, repr=False)
class Summary:
    """The result of ``summarize``: rows in execution order, plus totals.

    ``total_params`` counts every parameter of the model once (as
    ``sum(p.numel() for p in model.parameters())``); ``unlisted_params`` is the
    part no leaf row holds (modules that never ran, parameters owned by
    non-leaf modules). ``total_macs`` sums the known MACs; ``unknown_macs``
    names the rows left out of it. ``str(summary)`` is a text table and
    Jupyter shows ``_repr_html_``.
    """

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    total_macs: int
    unknown_macs: list[str] = field(default_factory=list)

    @property
    def frozen_params(self) -> int:
        """Parameters with ``requires_grad=False``."""
        return self.total_params - self.trainable_params

    @property
    def unlisted_params(self) -> int:
        """Parameters not shown in any row (unused modules, non-leaf parameters)."""
        return self.total_params - sum(row.params for row in self.rows)

    def __getitem__(self, name: str) -> LayerRow:
        """The row of the first call of the module with this dotted name."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no layer named {name!r}; layers: {', '.join(r.name for r in self.rows)}")

    def __len__(self) -> int:
        return len(self.rows)

    def to_records(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (one per row), e.g. for ``pandas.DataFrame``."""
        return [
            {"name": r.name, "type": r.type, "call": r.call, "output_shape": r.output_shape,
             "params": r.params, "trainable": r.trainable, "macs": r.macs,
             "rf": r.rf, "jump": r.jump, "shared": r.shared}
            for r in self.rows
        ]

    def totals(self) -> list[tuple[str, str]]:
        """The lines under the table as (label, text) pairs."""
        lines = [
            ("Input shape", _shape(self.input_shape)),
            ("Output shape", _shape(self.output_shape)),
            ("Parameters", f"{self.total_params:,} (trainable {self.trainable_params:,}, "
                           f"frozen {self.frozen_params:,})"),
        ]
        if self.unlisted_params:
            lines.append(("", f"{self.unlisted_params:,} of them in no row "
                              "(unused modules or parameters of non-leaf modules)"))
        macs = f"{self.total_macs:,}"
        if self.unknown_macs:
            n = len(self.unknown_macs)
            names = ", ".join(self.unknown_macs[:5]) + (", ..." if n > 5 else "")
            macs += f" (excludes {n} layer{'s' if n > 1 else ''} of unknown cost: {names})"
        lines.append(("MACs", macs))
        return lines

    def to_text(self) -> str:
        """The table as aligned plain text."""
        table = [dict(zip(_COLUMNS, _COLUMNS))] + [row.cells() for row in self.rows]
        widths = {c: max(len(cells[c]) for cells in table) for c in _COLUMNS}

        def line(cells: dict[str, str]) -> str:
            parts = [cells[c].rjust(widths[c]) if c in _NUMERIC else cells[c].ljust(widths[c])
                     for c in _COLUMNS]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * widths[c] for c in _COLUMNS)
        body = [line(table[0]), rule] + [line(cells) for cells in table[1:]] + [rule]
        label_width = max(len(label) for label, _ in self.totals())
        body += [f"{label + ':' if label else '':<{label_width + 1}}  {text}"
                 for label, text in self.totals()]
        return "\n".join(body)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        def cell(tag: str, column: str, text: str) -> str:
            align = "right" if column in _NUMERIC else "left"
            # nowrap: a shape such as (16, 10, 10) must not break over two lines
            style = f' style="text-align:{align}; white-space:nowrap; padding:1px 8px"'
            return f"<{tag}{style}>{html.escape(text)}</{tag}>"

        head = "".join(cell("th", c, c) for c in _COLUMNS)
        body = "\n".join(
            "<tr>" + "".join(cell("td", c, row.cells()[c]) for c in _COLUMNS) + "</tr>"
            for row in self.rows
        )
        foot = "\n".join(
            f'<tr><th style="text-align:left">{html.escape(label)}</th>'
            f'<td colspan="{len(_COLUMNS) - 1}" style="text-align:left">{html.escape(text)}</td></tr>'
            for label, text in self.totals()
        )
        return (f'<table class="model-summary">\n<thead><tr>{head}</tr></thead>\n'
                f"<tbody>\n{body}\n</tbody>\n<tfoot>\n{foot}\n</tfoot>\n</table>")


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _axes(value: tuple[int, ...] | str | None) -> str:
    """(11, 11) -> "11"; (5, 3) -> "5x3"; "all" -> "all"; None or () -> "-"."""
    if value is None or value == ():
        return "-"
    if isinstance(value, str):
        return value
    if len(set(value)) == 1:
        return str(value[0])
    return "x".join(map(str, value))


# --------------------------------------------------------------------------
# Receptive fields
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    """Receptive field of every position of one tensor: rf per axis (or "all") and jump."""

    rf: tuple[int, ...] | str
    jump: tuple[int, ...] | None  # None: no grid any more (flattened)


def _tuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * n


def _window_field(f: _Field | None, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> _Field | None:
    """rf_out = rf_in + (k_eff - 1) * jump_in, jump_out = jump_in * stride, per axis."""
    if f is None or f.jump is None:
        return None
    if f.rf == ALL:
        return _Field(ALL, None)
    if len(f.rf) != len(kernel):
        return None
    k_eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    rf = tuple(r + (k - 1) * j for r, k, j in zip(f.rf, k_eff, f.jump))
    jump = tuple(j * s for j, s in zip(f.jump, stride))
    return _Field(rf, jump)


def _adaptive_field(f: _Field | None, n_in: tuple[int, ...], n_out: tuple[int, ...]) -> _Field | None:
    """Global pooling sees everything; a whole-number ratio is an ordinary pool; else unknown."""
    if all(o == 1 for o in n_out):
        return _Field(ALL, None)
    if all(i % o == 0 for i, o in zip(n_in, n_out)):
        k = tuple(i // o for i, o in zip(n_in, n_out))
        return _window_field(f, k, k, (1,) * len(k))
    return None


def _next_field(m: nn.Module, f: _Field | None, x: torch.Tensor, out: torch.Tensor) -> _Field | None:
    """The receptive field of ``m``'s output, given that of its input ``x``."""
    n = x.dim() - 2  # spatial axes
    if isinstance(m, _CONVS):
        return _window_field(f, m.kernel_size, m.stride, m.dilation)
    if isinstance(m, _POOLS):
        stride = m.stride if m.stride is not None else m.kernel_size  # torch: None means kernel
        dilation = getattr(m, "dilation", 1)  # AvgPool has none
        return _window_field(f, _tuple(m.kernel_size, n), _tuple(stride, n), _tuple(dilation, n))
    if isinstance(m, _ADAPTIVE):
        return _adaptive_field(f, tuple(x.shape[2:]), tuple(out.shape[2:]))
    if f is None:
        return None
    if isinstance(m, nn.Flatten):
        return _Field(f.rf, None)
    if isinstance(m, nn.Linear):
        return _Field(ALL, None) if x.dim() == 2 else None
    if isinstance(m, _POINTWISE) or (isinstance(m, _SOFTMAXES) and x.dim() == 2):
        return f
    return None


# --------------------------------------------------------------------------
# Running the model
# --------------------------------------------------------------------------

def _first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a (nested) tuple, list or dict, or ``value`` itself."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _macs(m: nn.Module, x: torch.Tensor | None, out: torch.Tensor | None) -> int | None:
    """Multiply-accumulates of one call, per sample (torchvision's convention)."""
    if out is None:
        return None
    per_sample = out.numel() // max(out.shape[0], 1) if out.dim() else out.numel()
    if isinstance(m, _CONVS):
        return per_sample * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return per_sample * m.in_features
    if isinstance(m, _ZERO_MACS):
        return 0
    return None


class _Recorder:
    """The hooks' shared state for one run: rows, tensor fields, counted parameters."""

    def __init__(self):
        self.rows: list[LayerRow] = []
        self.fields: dict[int, tuple[torch.Tensor, int, _Field | None]] = {}
        self.seen_params: set[int] = set()
        self.calls: dict[int, int] = {}
        self.stack: list[tuple[str, _Field | None, torch.Tensor | None]] = []  # layers running now
        self.last_done = ""

    def remember(self, t: torch.Tensor, f: _Field | None) -> None:
        # Keeping a reference to t keeps its id from being reused by another tensor.
        self.fields[id(t)] = (t, t._version, f)

    def field_of(self, t: torch.Tensor) -> _Field | None:
        """The field of a tensor a leaf made, or of a view of it; None if unknown."""
        known = self.fields.get(id(t))
        if known is not None and known[0] is t:
            return known[2] if known[1] == t._version else None  # changed in place since
        base = t._base
        known = self.fields.get(id(base)) if base is not None else None
        if known is None or known[0] is not base or known[1] != t._version:
            return None
        f = known[2]
        if f is None or t.numel() != base.numel() or t.storage_offset() != base.storage_offset():
            return None
        if t.shape == base.shape:
            return f
        return _Field(f.rf, None) if t.dim() == 2 else None  # torch.flatten(x, 1)

    def pre_hook(self, name: str, m: nn.Module, args: tuple) -> None:
        x = _first_tensor(args)
        self.stack.append((_where(name, m), None if x is None else self.field_of(x), x))

    def hook(self, name: str, m: nn.Module, args: tuple, output: Any) -> None:
        _, f_in, x = self.stack.pop()
        out = _first_tensor(output)
        call = self.calls[id(m)] = self.calls.get(id(m), 0) + 1
        own = list(m.parameters(recurse=False))
        new = [p for p in own if id(p) not in self.seen_params]
        self.seen_params.update(id(p) for p in new)
        f_out = _next_field(m, f_in, x, out) if x is not None and out is not None else None
        rf = f_out.rf if f_out is not None else None
        jump = f_out.jump if f_out is not None else None
        if out is not None:
            self.remember(out, f_out)
        self.rows.append(LayerRow(
            name=name, type=type(m).__name__,
            output_shape=tuple(out.shape[1:]) if out is not None and out.dim() else (),
            params=sum(p.numel() for p in new),
            trainable=sum(p.numel() for p in new if p.requires_grad),
            macs=_macs(m, x, out), rf=rf, jump=jump, call=call,
            shared=len(new) < len(own)))
        self.last_done = _where(name, m)


def _where(name: str, m: nn.Module) -> str:
    """A layer as errors name it: ``features.12 (MaxPool2d)``."""
    return f"{name or '(model)'} ({type(m).__name__})"


def _input_like(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def summarize(model: nn.Module, input_shape: Sequence[int]) -> Summary:
    """Run ``model`` once on zeros of shape ``(1, *input_shape)`` and tabulate its leaf layers.

    ``input_shape`` leaves out the batch axis: ``(C, H, W)`` such as
    ``(3, 224, 224)``. Returns a ``Summary`` whose rows follow execution order;
    see the module docstring for how parameters, MACs and receptive fields are
    counted. The model runs in eval mode under ``torch.no_grad()`` on the device
    and dtype of its parameters (a model built on the ``meta`` device gives
    shapes without computing anything); its train/eval flags are restored
    afterwards and no hook is left behind.

    Raises ``ValueError`` with torch's reason and the layer it failed in when the
    forward fails (an input too small, the wrong number of channels, ...).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summarize expects an nn.Module, got {type(model).__name__}")
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or not input_shape:
        raise ValueError(f"input_shape must be a non-empty sequence of positive ints without the "
                         f"batch axis, e.g. (3, 224, 224); got {input_shape!r}")
    input_shape = tuple(checks.as_int(n, "every size in input_shape", low=1) for n in input_shape)
    device, dtype = _input_like(model)
    x = torch.zeros((1, *input_shape), device=device, dtype=dtype)

    rec = _Recorder()
    spatial = len(input_shape) - 1
    rec.remember(x, _Field((1,) * spatial, (1,) * spatial) if spatial else _Field((), None))
    leaves = [(name, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    handles = []
    modes = {m: m.training for m in model.modules()}
    try:
        for name, m in leaves:
            handles.append(m.register_forward_pre_hook(
                lambda mod, args, name=name: rec.pre_hook(name, mod, args)))
            handles.append(m.register_forward_hook(
                lambda mod, args, out, name=name: rec.hook(name, mod, args, out)))
        model.eval()
        with torch.no_grad():
            try:
                output = model(x)
            except (RuntimeError, ValueError, TypeError, IndexError, ZeroDivisionError) as err:
                where = (f"in {rec.stack[-1][0]}" if rec.stack
                         else f"after {rec.last_done}" if rec.last_done else "before the first layer")
                raise ValueError(
                    f"the model failed on an input of shape {input_shape} (batch axis left out) "
                    f"{where}: {err}") from err
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode  # not m.train(mode): that would also reset the children

    params = list(model.parameters())  # after the run, so lazy modules are materialized
    out = _first_tensor(output)
    return Summary(
        input_shape=input_shape,
        output_shape=tuple(out.shape[1:]) if out is not None else (),
        rows=rec.rows,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_macs=sum(r.macs for r in rec.rows if r.macs is not None),
        unknown_macs=[r.label for r in rec.rows if r.macs is None],
    )
