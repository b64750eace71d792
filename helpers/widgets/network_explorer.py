"""NetworkExplorer: draw a digit and watch every layer of a trained network respond.

The network runs in the browser (network_explorer.js, with the arithmetic in
net_math.js) from weights exported by network_export.py, so it works in the
static book with no kernel. In Jupyter, `update_model(model)` sends new
weights to every view of the widget.
"""

from __future__ import annotations

import base64

import numpy as np
import torch
import traitlets as t
from torch import nn

from helpers import checks
from helpers.widgets._base import _CSS, ExplorerError, _Explorer, bundle
from helpers.widgets.network_export import decode, export

MAX_BYTES = 1_000_000  # weights a page may carry (before base64)


class NetworkExplorer(_Explorer):
    """A trained network, drawn layer by layer, on a digit the reader draws.

    model: an nn.Module built from the layers net_math.js can run (see
    network_export.SUPPORTED); left out, an untrained LeNet. input_shape is
    (C, H, W), (1, 28, 28) for MNIST; mean and std the training split's
    normalisation. samples (N, 28, 28) uint8 (or (N, 1, 28, 28)) are test images
    a reader can pick without drawing; sample_labels their classes.

    Set later from Python, mean, std, classes and sample are checked as in the
    constructor; input_shape stays (1, 28, 28); the model's traits (architecture,
    layers, weights, dtype) are written by update_model() alone.
    """

    _esm = bundle("network_explorer.js")
    _css = _CSS.read_text(encoding="utf-8") + "\n" + (_CSS.parent / "network_explorer.css").read_text(encoding="utf-8")
    _repr_traits = ("architecture", "dtype", "sample")

    architecture = t.Unicode(help="the model's class name").tag(sync=True)
    layers = t.List(help="layer specs, in order (network_export.export)").tag(sync=True)
    weights = t.Unicode(help="all weights, little-endian, base64").tag(sync=True)
    dtype = t.Unicode("float32").tag(sync=True)
    input_shape = t.List([1, 28, 28]).tag(sync=True)
    mean = t.Float(0.0).tag(sync=True)
    std = t.Float(1.0).tag(sync=True)
    classes = t.List().tag(sync=True)
    samples = t.Unicode(help="test images, (N, 28, 28) uint8, base64").tag(sync=True)
    sample_labels = t.List().tag(sync=True)
    sample = t.Int(-1, help="the test image shown, or -1 for the reader's drawing").tag(sync=True)
    probabilities = t.List(read_only=True, help="class probabilities a browser view computed for the input it "
                                                "shows, sent after each stroke, pick or update_model(); "
                                                "[] until one has").tag(sync=True)

    def __init__(self, model: nn.Module | None = None, *, input_shape=(1, 28, 28), mean: float = 0.0,
                 std: float = 1.0, samples=None, sample_labels=None, classes=tuple("0123456789"),
                 sample: int = -1, dtype: str = "float32"):
        self._exporting = False
        if model is None:
            from helpers import models

            with torch.random.fork_rng():
                torch.manual_seed(0)
                model = models.LeNet()
        pixels, labels = _samples(samples, sample_labels, len(classes))
        super().__init__(input_shape=list(input_shape), mean=_number(mean, "mean"), std=_number(std, "std"),
                         classes=[str(c) for c in classes], samples=pixels, sample_labels=labels)
        self.update_model(model, dtype=dtype)
        self.sample = sample

    @t.validate("input_shape")
    def _check_input_shape(self, proposal):
        if list(proposal["value"]) != [1, 28, 28]:
            raise ExplorerError(f"the drawing pad makes 1x28x28 inputs; input_shape must be (1, 28, 28), "
                                f"got {tuple(proposal['value'])}")
        return proposal["value"]

    @t.validate("mean", "std")
    def _check_normalization(self, proposal):
        name = proposal["trait"].name
        value = _number(proposal["value"], name)
        if name == "std" and value <= 0:
            raise ExplorerError(f"std must be positive (the input is divided by it), got {value}")
        return value

    @t.validate("classes")
    def _check_classes(self, proposal):
        names = proposal["value"]
        outputs = self.layers[-1]["shape"] if self.layers else None   # None until a model is exported
        if outputs is not None and [len(names)] != outputs:
            raise ExplorerError(f"the model has {outputs[0]} outputs, so classes needs {outputs[0]} names, "
                                f"got {len(names)}")
        if self.sample_labels and max(self.sample_labels) >= len(names):
            raise ExplorerError(f"a sample is labelled {max(self.sample_labels)}, beyond the "
                                f"{len(names)} classes given")
        return names

    @t.validate("architecture", "layers", "weights", "dtype")
    def _check_one_writer(self, proposal):
        if not self._exporting:
            raise ExplorerError(f"{proposal['trait'].name} is written by update_model(model) from the "
                                f"model's own weights; call update_model to show another model or dtype")
        return proposal["value"]

    @t.validate("sample")
    def _check_sample(self, proposal):
        n = len(self.sample_labels)
        if not -1 <= proposal["value"] < n:
            raise ExplorerError(f"sample must be -1 (the drawing) or 0 to {n - 1}, got {proposal['value']}")
        return proposal["value"]

    def update_model(self, model: nn.Module, dtype: str | None = None) -> None:
        """Export `model`'s current weights to the widget (every open view redraws).

        Raises ValueError, naming the layer and its path, for a module the browser
        cannot run, or when the weights would make the page heavier than 1 MB.
        """
        dtype = dtype or self.dtype
        out = export(model, tuple(self.input_shape), dtype)
        ends = out.layers[-1]["shape"] if out.layers else list(self.input_shape)  # no layer: the input
        if ends != [len(self.classes)]:
            raise ExplorerError(f"the model ends in {ends} values, not one per class ({len(self.classes)})")
        if out.nbytes > MAX_BYTES:
            raise ExplorerError(f"{type(model).__name__}'s weights take {out.nbytes:,} bytes as {dtype}; "
                                f"the explorer carries at most {MAX_BYTES:,}" +
                                (" (try dtype='float16')" if dtype == "float32" else ""))
        self._exporting = True
        try:
            with self.hold_trait_notifications():  # cross-validation runs as this block ends
                self.architecture = type(model).__name__
                self.dtype = out.dtype
                self.layers = out.layers
                self.weights = out.weights
        finally:
            self._exporting = False

    def weight_array(self) -> np.ndarray:
        """The weights exactly as the browser reads them: one float32 array."""
        return decode(self.weights, self.dtype)

    def sample_images(self) -> torch.Tensor:
        """The pickable test images, (N, 28, 28) float in [0, 1]."""
        raw = np.frombuffer(base64.b64decode(self.samples), dtype=np.uint8)
        return torch.from_numpy(raw.reshape(-1, 28, 28).astype(np.float32) / 255)


def _number(value, name: str) -> float:
    """A finite float, or ExplorerError naming `name` (NaN would reach every pixel)."""
    try:
        return checks.as_float(value, name)
    except ValueError as exc:
        raise ExplorerError(str(exc)) from None


def _samples(samples, labels, num_classes: int) -> tuple[str, list[int]]:
    if samples is None:
        return "", []
    a = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3 or a.shape[1:] != (28, 28) or a.dtype != np.uint8:
        raise ExplorerError(f"samples must be (N, 28, 28) uint8 images, got {a.shape} {a.dtype}")
    labels = [int(v) for v in (labels if labels is not None else [])]
    if len(labels) != len(a) or not all(0 <= v < num_classes for v in labels):
        raise ExplorerError(f"need one label (0 to {num_classes - 1}) per sample: {len(a)} samples, "
                            f"{len(labels)} labels")
    return base64.b64encode(a.tobytes()).decode("ascii"), labels
