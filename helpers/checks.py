"""Checks for values readers pass in: one place that turns "a number" into an int or a float.

A reader may hand the book a Python number, a NumPy scalar (``np.float32(1e-3)``)
or a 0-d tensor (``torch.tensor(0.9)``); all of them are numbers. Booleans are
not, although Python counts ``True`` as the int 1. Each check returns the plain
Python value or raises a ``ValueError`` that names the argument and what would
be right.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch


def _plain(value):
    """A 0-d tensor or NumPy scalar as the Python number it holds; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.dtype.is_complex:
        value = value.cpu().numpy()[()]
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        return float(str(value))  # np.float32(1e-3) is the 0.001 the reader wrote, not 0.0010000000474974513
    if isinstance(value, np.generic):
        return value.item()
    return value


def as_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int in [low, high] (either bound may be None), or ValueError naming `name`."""
    plain = _plain(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    plain = int(plain)
    if (low is not None and plain < low) or (high is not None and plain > high):
        raise ValueError(f"{name} must be {_range(low, high)}, got {plain}")
    return plain


def as_float(value, name: str, low: float | None = None, high: float | None = None) -> float:
    """`value` as a finite float in [low, high], or ValueError naming `name`."""
    plain = _plain(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    plain = float(plain)
    if not math.isfinite(plain):
        raise ValueError(f"{name} must be a finite number, got {plain}")
    if (low is not None and plain < low) or (high is not None and plain > high):
        raise ValueError(f"{name} must be {_range(low, high)}, got {plain}")
    return plain + 0.0  # -0.0 and 0.0 are one number


def sizes(**values) -> None:
    """Each keyword's value must be an int >= 1 (a count of channels, classes, layers, pixels,
    or a stride), or ValueError naming the first one that is not."""
    for name, value in values.items():
        as_int(value, name, low=1)


def as_ints(value, name: str, length: int | None = None, empty: bool = False) -> tuple[int, ...]:
    """`value` (a tuple or list) as a tuple of ints >= 1: `length` of them if given, and at
    least one unless empty=True; or ValueError naming `name`."""
    want = (f"a tuple of {length} ints >= 1" if length is not None
            else "a tuple of ints >= 1" if empty else "a non-empty tuple of ints >= 1")
    if (not isinstance(value, (tuple, list)) or (length is not None and len(value) != length)
            or (not value and not empty)):
        raise ValueError(f"{name} must be {want}, got {value!r}")
    try:
        return tuple(as_int(v, name, low=1) for v in value)
    except ValueError:
        raise ValueError(f"{name} must be {want}, got {value!r}") from None


def as_bool(value, name: str) -> bool:
    """True or False (also NumPy's and a 0-d bool tensor's), or ValueError naming `name`."""
    plain = _plain(value)
    if not isinstance(plain, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return plain


def one_of(value, name: str, choices: tuple[str, ...]) -> str:
    """`value` if it is one of the strings `choices`, or ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"
