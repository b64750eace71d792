"""A trained nn.Module as a list of layers and one buffer of weights, for JavaScript.

`export(model, input_shape)` walks the module's children in order and writes
each layer the browser can run (net_math.js) as a small dict; all weights go
into one little-endian float32 (or float16) buffer, base64-encoded, so the
widget state holds bytes, not lists of decimals. BatchNorm in eval mode is
folded into the convolution or linear layer before it; Dropout and Identity
disappear (they do nothing at test time). Anything else raises ValueError
naming the layer's type and its path in the module, and so does a subclass of
a supported layer (helpers.models.Subsampling is an AvgPool2d with a weight
and a bias): its forward may compute something else, which the browser would
not. Weights must be finite, and fit float16 when exported as float16.
"""

from __future__ import annotations

import base64
import copy
import dataclasses

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
DTYPES = ("float32", "float16")
FLOAT16_MAX = 65504.0
SUPPORTED = ("Conv2d (groups=1, dilation=1, zero padding), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), "
             "ReLU, Sigmoid, Tanh, Flatten, Linear, BatchNorm1d/2d, Dropout, Identity, nn.Sequential")


@dataclasses.dataclass
class Exported:
    """What the widget stores: layer specs, the weights (base64) and their byte count."""

    layers: list[dict]
    weights: str   # base64 of the little-endian buffer
    dtype: str     # "float32" or "float16"
    nbytes: int    # bytes before base64 (base64 adds a third)


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


def _refuse(module: nn.Module, path: str, why: str) -> ValueError:
    return ValueError(f"{type(module).__name__} at '{path or '(the model)'}' cannot run in the "
                      f"browser: {why}. The explorer runs {SUPPORTED}.")


# Each supported layer is matched by its exact class: a subclass may change forward().
KNOWN = (nn.Dropout, nn.Identity, *ACTIVATIONS, nn.Flatten, nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d,
         nn.AdaptiveAvgPool2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)


def _leaf(module: nn.Module, path: str) -> tuple[dict | None, dict[str, torch.Tensor]]:
    """(spec, float64 tensors) for one leaf module; spec None for a layer that does nothing."""
    m = module
    if type(m) not in KNOWN:
        base = next((k for k in KNOWN if isinstance(m, k)), None)
        if base is not None:
            raise _refuse(m, path, f"it is a subclass of {base.__name__}, and its forward() or its "
                                   f"parameters may differ from {base.__name__}'s; only "
                                   f"{base.__name__} itself is supported")
        raise _refuse(m, path, "this layer type is not supported")
    if type(m) in (nn.Dropout, nn.Identity):
        return None, {}
    if type(m) in ACTIVATIONS:
        return {"type": ACTIVATIONS[type(m)]}, {}
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise _refuse(m, path, f"only Flatten(1, -1) is supported, got ({m.start_dim}, {m.end_dim})")
        return {"type": "flatten"}, {}
    if isinstance(m, nn.Conv2d):
        if m.groups != 1:
            raise _refuse(m, path, f"groups={m.groups}; only groups=1 is supported")
        if _pair(m.dilation) != [1, 1]:
            raise _refuse(m, path, f"dilation={m.dilation}; only 1 is supported")
        if isinstance(m.padding, str) or m.padding_mode != "zeros":
            raise _refuse(m, path, f"padding={m.padding!r}, padding_mode={m.padding_mode!r}; "
                                   "give padding as numbers, with zeros")
        spec = {"type": "conv", "in_channels": m.in_channels, "out_channels": m.out_channels,
                "kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride), "padding": _pair(m.padding)}
        return spec, {"w": m.weight.detach().double(), "b": _bias(m.bias, m.out_channels)}
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        if m.ceil_mode:
            raise _refuse(m, path, "ceil_mode=True is not supported")
        spec = {"kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride or m.kernel_size),
                "padding": _pair(m.padding)}
        if isinstance(m, nn.MaxPool2d):
            if _pair(m.dilation) != [1, 1]:
                raise _refuse(m, path, f"dilation={m.dilation}; only 1 is supported")
            return {"type": "maxpool", **spec}, {}
        if m.divisor_override is not None:
            raise _refuse(m, path, "divisor_override is not supported")
        return {"type": "avgpool", "count_include_pad": bool(m.count_include_pad), **spec}, {}
    if isinstance(m, nn.AdaptiveAvgPool2d):
        if _pair(m.output_size) != [1, 1]:
            raise _refuse(m, path, f"output_size={m.output_size}; only 1 (global average) is supported")
        return {"type": "globalavgpool"}, {}
    if isinstance(m, nn.Linear):
        spec = {"type": "linear", "in_features": m.in_features, "out_features": m.out_features}
        return spec, {"w": m.weight.detach().double(), "b": _bias(m.bias, m.out_features)}
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if m.running_mean is None:
            raise _refuse(m, path, "it keeps no running statistics (track_running_stats=False)")
        scale = m.weight.detach().double() if m.affine else torch.ones(m.num_features, dtype=torch.float64)
        shift = m.bias.detach().double() if m.affine else torch.zeros(m.num_features, dtype=torch.float64)
        scale = scale / torch.sqrt(m.running_var.double() + m.eps)
        shift = shift - m.running_mean.double() * scale
        return {"type": "affine"}, {"w": scale, "b": shift}
    raise AssertionError(f"{type(m).__name__} is in KNOWN but has no export")  # pragma: no cover


def _bias(bias, n: int) -> torch.Tensor:
    return bias.detach().double() if bias is not None else torch.zeros(n, dtype=torch.float64)


def _walk(module: nn.Module, path: str, x: torch.Tensor, out: list) -> torch.Tensor:
    """Append (path, module) for every leaf under `module`; return module's output for x.

    A container that is not an nn.Sequential must compute exactly its children one
    after another (as LeNet's forward does); that is checked on `x`.
    """
    children = list(module.named_children())
    if not children:
        _leaf(module, path)  # refuses unsupported layers before anything runs
        out.append((path, module))
        return module(x)
    chain = _refuse(module, path, "its forward() does more than run its children one after "
                                  "another (a skip connection, say)")
    plain = type(module) is nn.Sequential  # a subclass may override forward(): check it too
    h = x
    try:
        for name, child in children:
            h = _walk(child, f"{path}.{name}" if path else name, h, out)
    except RuntimeError as exc:  # a child that cannot take the previous child's output
        if plain:
            raise
        raise chain from exc
    if not plain:
        y = module(x)
        if y.shape != h.shape or not torch.allclose(y, h, rtol=1e-9, atol=1e-9, equal_nan=True):
            raise chain
    return h


def export(model: nn.Module, input_shape: tuple[int, int, int], dtype: str = "float32") -> Exported:
    """Layer specs and weights of `model` for one input of `input_shape` (C, H, W).

    Each spec gets the module path it came from and the output shape after it.
    Raises ValueError for a layer or module the browser cannot run, for an
    input_shape the model cannot take, and for weights that are not finite (or,
    as float16, beyond its largest value, 65,504).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if len(shape) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise ValueError(f"input_shape must be three positive ints (C, H, W), got {input_shape!r}")
    probe = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    twin = copy.deepcopy(model).cpu().double().eval()  # never touches the caller's model or its mode
    with torch.no_grad():
        try:
            twin(probe)
        except RuntimeError as exc:  # the model itself, not the export, fails on this shape
            raise ValueError(f"{type(model).__name__} cannot run on an input of input_shape {shape} "
                             f"(C, H, W): {str(exc).splitlines()[0]}") from exc
    leaves: list[tuple[str, nn.Module]] = []
    with torch.no_grad():
        _walk(twin, "", probe, leaves)
    layers: list[dict] = []
    arrays: list[np.ndarray] = []
    offset = 0
    h = probe
    with torch.no_grad():
        for path, module in leaves:
            spec, tensors = _leaf(module, path)
            h = module(h)
            if spec is None:
                continue
            prev = layers[-1] if layers else None
            if spec["type"] == "affine" and prev and prev["type"] in ("conv", "linear") and "folded" not in prev:
                w, b = prev.pop("_w"), prev.pop("_b")            # fold: W * scale, b * scale + shift
                scale, shift = tensors["w"], tensors["b"]
                prev["_w"] = w * scale.view(-1, *([1] * (w.dim() - 1)))
                prev["_b"] = b * scale + shift
                prev["folded"] = path
                prev["shape"] = list(h.shape[1:])
                continue
            spec = {**spec, "path": path, "shape": list(h.shape[1:])}
            if tensors:
                spec["_w"], spec["_b"] = tensors["w"], tensors["b"]
            layers.append(spec)
    for spec in layers:
        if "_w" in spec:
            for slot, key in (("w", "_w"), ("b", "_b")):
                exact = spec.pop(key)
                if not torch.isfinite(exact).all():
                    raise ValueError(f"the weights of '{spec['path']}' are not all finite (NaN or "
                                     f"infinite): the network cannot be shown")
                if dtype == "float16" and exact.abs().max() > FLOAT16_MAX:
                    folded = " (BatchNorm folded in)" if "folded" in spec else ""
                    raise ValueError(f"the weights of '{spec['path']}'{folded} reach "
                                     f"{exact.abs().max().item():,.0f}, beyond float16's largest "
                                     f"value, {FLOAT16_MAX:,.0f}; export them as float32")
                a = exact.numpy().astype(f"<f{4 if dtype == 'float32' else 2}").ravel()
                spec[slot] = [offset, int(a.size)]
                offset += a.size
                arrays.append(a)
    buffer = np.concatenate(arrays).tobytes() if arrays else b""
    return Exported(layers, base64.b64encode(buffer).decode("ascii"), dtype, len(buffer))


def decode(exported_weights: str, dtype: str) -> np.ndarray:
    """The weight buffer back as a float32 array (what the browser computes with)."""
    raw = base64.b64decode(exported_weights)
    return np.frombuffer(raw, dtype="<f4" if dtype == "float32" else "<f2").astype(np.float32)


def load_into(model: nn.Module, layers: list[dict], weights: np.ndarray) -> nn.Module:
    """Copy exported conv/linear weights back into `model` (same architecture, no BatchNorm folded).

    For checking: torch then runs on exactly the numbers the page holds.
    """
    with torch.no_grad():
        for spec in layers:
            if "w" not in spec:
                continue
            if "folded" in spec or spec["type"] == "affine":
                raise ValueError(f"layer {spec['path']} holds folded BatchNorm: its weights are not "
                                 f"a copy of one module's")
            layer = model.get_submodule(spec["path"])
            (o, n), (ob, nb) = spec["w"], spec["b"]
            layer.weight.copy_(torch.from_numpy(weights[o:o + n]).view_as(layer.weight))
            if layer.bias is not None:
                layer.bias.copy_(torch.from_numpy(weights[ob:ob + nb]).view_as(layer.bias))
    return model
