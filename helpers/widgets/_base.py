"""Plumbing shared by the explorers: the JavaScript bundle, checks, the base class."""

from __future__ import annotations

import pathlib
import re

import anywidget
import numpy as np
import torch
import traitlets as t

_HERE = pathlib.Path(__file__).parent
_CSS = _HERE / "widgets.css"
_IMPORT = re.compile(r'^import \{[^}]*\} from "\./([\w-]+\.js)";\n', re.M)


def bundle(entry: str) -> str:
    """One ES module: `entry` with its relative imports (e.g. ./ui.js) inlined.

    anywidget hands `_esm` to the browser as a blob: URL, from which relative
    imports cannot resolve, so each dependency is pasted in once, before the
    code that uses it.
    """
    done: list[str] = []
    parts: list[str] = []

    def add(name: str) -> None:
        if name in done:
            return
        done.append(name)
        text = (_HERE / name).read_text(encoding="utf-8")
        for dependency in _IMPORT.findall(text):
            add(dependency)
        parts.append(f"// ---- helpers/widgets/{name}\n" + _IMPORT.sub("", text))

    add(entry)
    return "\n".join(parts)


class ExplorerError(t.TraitError, ValueError):
    """A setting the explorer cannot show (a ValueError; a TraitError so traitlets rolls back)."""


def _array(value, ndim: int, name: str, layout: str) -> np.ndarray:
    """A float array of `ndim` dimensions from a tensor, array or nested list."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ExplorerError(f"{name} must be numbers of shape {layout}, got {value!r}") from exc
    if a.ndim != ndim:
        raise ExplorerError(f"{name} must have shape {layout} ({ndim} dimensions), got shape {a.shape}")
    if a.size == 0 or not np.isfinite(a).all():
        raise ExplorerError(f"{name} must be non-empty and finite, got shape {a.shape}")
    if a.shape[-1] != a.shape[-2]:
        raise ExplorerError(f"{name} must be square in its last two axes, got shape {a.shape}")
    return a


def grid_values(given: list, size: int) -> torch.Tensor:
    """The grid an explorer shows (size, size): `given` when its size matches, else 0, 1, 2, ... row by row."""
    if len(given) == size:
        return torch.tensor(given, dtype=torch.float64)
    return torch.arange(size * size, dtype=torch.float64).reshape(size, size)


def _sized_grid(widget, name: str, value, size: str) -> list:
    """X or K set from Python: [] (the default grid), or a square grid whose side is the trait `size`."""
    if not value:
        return []
    a = _array(value, 2, name, "(n, n)" if name == "X" else "(k, k)")
    if len(a) > widget.LIMITS[size][1]:
        raise ExplorerError(f"{name} is {len(a)}x{len(a)}, too large for this explorer")
    if len(a) != getattr(widget, size):  # the constructor's rule (only Python sets X and K)
        raise ExplorerError(
            f"{name} is {len(a)}x{len(a)} but {size}={getattr(widget, size)}; change both "
            f"together: with w.hold_trait_notifications(): w.{size}, w.{name} = {len(a)}, {name}")
    return a.tolist()


class _Nested(t.List):
    """A List trait that also takes a tensor or an array (stored as nested lists)."""

    def validate(self, obj, value):
        if not isinstance(value, list) and hasattr(value, "tolist"):
            value = value.tolist()
        return super().validate(obj, value)


def _in_range(name: str, value: int, limits: dict) -> int:
    lo, hi = limits[name]
    if not lo <= value <= hi:
        raise ExplorerError(f"{name} must be between {lo} and {hi} in this explorer, got {value}")
    return value


def _check_position(widget, value: int) -> int:
    """An output cell counted row by row: 0 <= position < (cells in the output), when it has one."""
    cells = widget._output_side() ** 2
    if value < 0 or (cells and value >= cells):
        raise ExplorerError(f"position must be 0 to {max(cells - 1, 0)} (an output cell, row by row), got {value}")
    return value


class _Explorer(anywidget.AnyWidget):
    """Shared plumbing: the stylesheet, the slider limits and where a change came from.

    Each trait has one writer. The reader's settings are inputs, written from
    whichever side the reader uses: set from Python they are checked in full;
    sent by a browser view, only their ranges (a view's sliders can reach a
    setting with no output, and the view explains it). What a view draws from
    them (an output, its size, a message) is read-only here and written by the
    view alone; Python's answer for the same setting is torch's (torch_output()).
    """

    _css = _CSS
    LIMITS: dict = {}
    limits = t.Dict().tag(sync=True)

    def __init__(self, **kwargs):
        self._from_view = False
        super().__init__(limits={k: list(v) for k, v in self.LIMITS.items()}, **kwargs)

    def set_state(self, sync_data):
        """Apply a change sent by a browser view (ipywidgets calls this for every one)."""
        self._from_view = True
        try:
            super().set_state(sync_data)
        finally:
            self._from_view = False

    def _repr_args(self) -> dict:
        return {name: getattr(self, name) for name in self._repr_traits}

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self._repr_args().items())
        return f"{type(self).__name__}({args})"
