"""Training and evaluation: `fit`, `evaluate`, and `fit_or_load` for cheap reruns.

The loop is plain PyTorch, written out so it can be read: `model.train()`,
forward, loss, `backward`, `step` for every batch; then `model.eval()` and
`torch.no_grad()` to measure the test set. `fit` returns a `History` of
per-epoch numbers instead of printing them; the chapter decides what to show.

Progress bar: `progress=None` (the default) shows one only where someone is
watching, i.e. in a terminal (stderr is a TTY) or in a Jupyter front end that
can answer `input()`. Tools that run notebooks unattended (nbclient, used by
`tools.notebooks execute`, and nbval) cannot answer input, so they get no bar,
and neither does CNN_BOOK_FAST=1 (CI). The bar is plain text (a display
handle in Jupyter, a carriage return in a terminal), never a widget, so no
widget state can leak into a committed notebook. CNN_BOOK_PROGRESS=1/0 or
progress=True/False overrides the choice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import pathlib
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers import repro
from helpers.data import Split

PROGRESS_ENV = "CNN_BOOK_PROGRESS"
ARTIFACTS = pathlib.Path(__file__).resolve().parents[1] / "artifacts"


# --------------------------------------------------------------------------- results


@dataclasses.dataclass
class Epoch:
    """What one epoch measured. Train numbers are averaged over the epoch's batches
    while the weights were still changing; test numbers come after the epoch."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    images_per_s: float   # training images per second (forward + backward + step)
    seconds: float        # wall time of the whole epoch: training, then evaluation
    train_seconds: float  # wall time of the training part alone (no evaluation)


@dataclasses.dataclass
class History:
    """The per-epoch record of a `fit`, plus where it ran and what was asked for."""

    epochs: list[Epoch]
    device: str
    config: dict
    loaded: bool = False  # True when fit_or_load read it from disk instead of training

    def column(self, name: str) -> list[float]:
        """One field over all epochs, e.g. history.column('test_accuracy')."""
        return [getattr(e, name) for e in self.epochs]

    @property
    def final(self) -> Epoch:
        return self.epochs[-1]

    @property
    def train_seconds(self) -> float:
        """Seconds spent training (forward, backward, step), evaluation not included."""
        return sum(e.train_seconds for e in self.epochs)

    @property
    def seconds(self) -> float:
        """Wall time of the whole run: training and the evaluation after every epoch."""
        return sum(e.seconds for e in self.epochs)

    def table(self) -> str:
        """The history as a small fixed-width text table."""
        lines = ["epoch  train loss  train acc  test loss  test acc   img/s  train s  epoch s"]
        for e in self.epochs:
            lines.append(f"{e.epoch:5d}  {e.train_loss:10.4f}  {e.train_accuracy:9.4f}  "
                         f"{e.test_loss:9.4f}  {e.test_accuracy:8.4f}  {e.images_per_s:6.0f}  "
                         f"{e.train_seconds:7.1f}  {e.seconds:7.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"epochs": [dataclasses.asdict(e) for e in self.epochs],
                "device": self.device, "config": self.config}

    @classmethod
    def from_dict(cls, d: dict, loaded: bool = False, train_images: int | None = None) -> History:
        """Rebuild a History from to_dict's output.

        Runs saved before `train_seconds` existed lack it. fit measured their
        images_per_s as train_images / training time, so, given the number of
        training images, the training time is recovered exactly; without it
        such a record is refused.
        """
        epochs = []
        for e in d["epochs"]:
            e = dict(e)
            if "train_seconds" not in e:
                if train_images is None:
                    raise ValueError("this history has no train_seconds; pass train_images "
                                     "to recover it from images_per_s")
                e["train_seconds"] = train_images / e["images_per_s"]
            epochs.append(Epoch(**e))
        return cls(epochs, d["device"], d["config"], loaded)


@dataclasses.dataclass
class Evaluation:
    """Loss averaged over every image (not over batches), accuracy, and optionally predictions."""

    loss: float
    accuracy: float
    correct: int
    total: int
    predictions: torch.Tensor | None = None  # (N,) predicted class per image, on the CPU


# --------------------------------------------------------------------------- evaluate and fit


def evaluate(model: nn.Module, data: Split, batch_size: int = 1000,
             device: torch.device | str | None = None, predictions: bool = False,
             flip: bool = False) -> Evaluation:
    """Mean cross-entropy and accuracy of `model` on every image of `data`.

    The loss is summed per image and divided by the number of images, so a
    smaller last batch counts exactly as much as it should. The model is put
    in eval mode (BatchNorm uses its running statistics) and its previous mode
    is restored afterwards. flip=True averages the logits of each image and
    its mirror image (left-right), a cheap test-time augmentation for networks
    trained with random flips; it costs a second forward pass.
    """
    if len(data) == 0:
        raise ValueError("evaluate got an empty split (0 images): there is nothing to measure; "
                         "check the split, e.g. a take(n) with n too small, or an empty data folder")
    _check_batch_size(batch_size, "batch_size")
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, preds = 0.0, 0, []
    with torch.no_grad():
        for x, y in data.batches(batch_size, device=device):
            logits = model(x)                                       # (B, classes)
            if flip:
                logits = (logits + model(x.flip(3))) / 2            # flip the width axis
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            pred = logits.argmax(dim=1)
            correct += (pred == y).sum().item()
            if predictions:
                preds.append(pred.cpu())
    model.train(was_training)
    n = len(data)
    return Evaluation(total_loss / n, correct / n, correct, n,
                      torch.cat(preds) if predictions else None)


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """'adam', 'adamw' or 'sgd' (with momentum) over `params`."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use 'adam', 'adamw' or 'sgd'")


def weight_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      layer: type[nn.Module] = nn.Conv2d, kernel_size: int | None = 3) -> list[float]:
    """Norm of d(cross-entropy)/d(weight) of every `layer` in `model` for one batch, input side first.

    One forward and backward pass in train mode (BatchNorm uses the batch's
    statistics, as in training); the model's gradients are left set. With
    layer=nn.Conv2d, `kernel_size` keeps only k x k convolutions (3 by
    default, which leaves out 1x1 projection shortcuts); None keeps all.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    layers = [m for m in model.modules() if isinstance(m, layer)
              and (kernel_size is None or getattr(m, "kernel_size", None) in (None, (kernel_size,) * 2))]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no {layer.__name__} layer"
                         + (f" with kernel size {kernel_size}" if kernel_size else ""))
    was_training = model.training
    model.train()
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    model.train(was_training)
    return [m.weight.grad.norm().item() for m in layers]


def fit(model: nn.Module, train_data: Split, test_data: Split, *, epochs: int,
        lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.9,
        weight_decay: float = 0.0, schedule: str = "constant", batch_size: int = 64,
        shuffle: bool = True, augment: bool = False, seed: int = 0,
        device: torch.device | str | None = None, eval_batch_size: int = 1000,
        progress: bool | None = None) -> History:
    """Train `model` with cross-entropy for `epochs` epochs; evaluate on `test_data` after each.

    Batches are drawn in an order (and augmented, if augment=True) from a
    generator seeded with `seed`, so the same model, data and seed give the
    same losses. schedule='cosine' lowers the learning rate smoothly from `lr`
    to zero over the run, one step per batch. `device` defaults to
    repro.pick_device() (cuda, then mps, then cpu); the model is moved there.
    """
    if not _is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    _check_batch_size(batch_size, "batch_size")
    _check_batch_size(eval_batch_size, "eval_batch_size")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    for what, split in (("train_data", train_data), ("test_data", test_data)):
        if len(split) == 0:
            raise ValueError(f"fit got an empty {what} (0 images); nothing to train or measure on")
    device = repro.pick_device(device) if device is not None else repro.pick_device()
    model.to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    steps = epochs * train_data.num_batches(batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if schedule == "cosine" else None
    generator = torch.Generator().manual_seed(seed)
    config = dict(epochs=epochs, lr=lr, optimizer=optimizer, momentum=momentum,
                  weight_decay=weight_decay, schedule=schedule, batch_size=batch_size,
                  shuffle=shuffle, augment=augment, seed=seed)
    bar = ProgressBar(steps, enabled=progress_enabled(progress))
    history = History([], str(device), config)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for batch, (x, y) in enumerate(train_data.batches(batch_size, shuffle=shuffle,
                                                          generator=generator, augment=augment,
                                                          device=device), start=1):
            logits = model(x)                                       # (B, classes)
            loss = F.cross_entropy(logits, y)                       # mean over the batch
            if not torch.isfinite(loss):
                bar.close()
                raise TrainingDiverged(
                    f"training stopped: the loss became {loss.item()} at epoch {epoch}, batch "
                    f"{batch} of {steps // epochs}. Lower the learning rate (lr={lr!r}), or check "
                    f"the inputs and the model's weights for NaN or infinite values")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
            bar.step(f"epoch {epoch}/{epochs}  loss {loss_sum / seen:.4f}")
        train_time = time.perf_counter() - start
        test = evaluate(model, test_data, eval_batch_size, device)
        history.epochs.append(Epoch(epoch, loss_sum / seen, correct / seen, test.loss,
                                    test.accuracy, seen / train_time,
                                    seconds=time.perf_counter() - start, train_seconds=train_time))
        bar.note(f"epoch {epoch}/{epochs}  test acc {test.accuracy:.4f}")
    bar.close()
    return history


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; fit stops at the first such batch."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_batch_size(value, name: str) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# The book's CIFAR-10 recipe for the modern networks (chapters 11 and 12,
# benchmarks/cifar_resnet.py): SGD with momentum, learning rate 0.1 lowered to
# zero by a cosine schedule, weight decay 5e-4, batches of 128, random flips
# and 4-pixel shifts. Chapter 7's small VGG used the same with lr 0.05.
CIFAR_RECIPE = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
                    schedule="cosine", batch_size=128, augment=True)

# fit's keyword defaults, so that fit_or_load(lr=1e-3) and leaving lr out share a key
_FIT_DEFAULTS = {k: p.default for k, p in inspect.signature(fit).parameters.items()
                 if p.kind == p.KEYWORD_ONLY and p.default is not p.empty}


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# --------------------------------------------------------------------------- load or train


def fingerprint(split: Split) -> str:
    """A short hash of a split's images, labels and normalisation (changes when the data does)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(split.images.numpy()))
    h.update(np.ascontiguousarray(split.labels.numpy()))
    h.update(repr((split.mean, split.std)).encode())
    return h.hexdigest()[:16]


def fit_or_load(name: str, build: Callable[[], nn.Module], train_data: Split, test_data: Split,
                *, directory: str | os.PathLike | None = None, retrain: bool = False,
                **fit_kwargs) -> tuple[nn.Module, History]:
    """Build a model (after seeding with fit's `seed`) and train it, or load the saved result.

    A finished run is saved as `<directory>/<name>-<key>.pt` (default: the
    git-ignored artifacts/ folder), holding the state_dict and the History.
    The key hashes everything that decides the result: the model's
    architecture, both data sets, and fit's arguments; change any of them
    and the model is trained again. Loading uses torch.load(weights_only=True),
    which reads tensors and plain values but never runs code from the file.

    `name` must be a plain file name stem (no folders). The directory is
    checked for writing before any training starts; if saving still fails
    afterwards, the trained model and history are returned with a warning
    naming the path. A saved file that cannot be read raises CachedRunError
    naming it; retrain=True (or deleting the file) trains afresh.
    """
    fit_kwargs = dict(fit_kwargs)
    device = fit_kwargs.pop("device", None)
    device = repro.pick_device(device) if device is not None else repro.pick_device()
    model, path = _build_and_locate(name, build, train_data, test_data, directory, fit_kwargs)
    folder = path.parent
    if path.exists() and not retrain:
        return _load_run(path, model, device, len(train_data))
    _check_writable(folder)  # before training: never train for minutes, then fail to save
    history = fit(model, train_data, test_data, device=device, **fit_kwargs)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    try:
        _save_run(path, {"model": state, "history": json.dumps(history.to_dict())})
    except (OSError, RuntimeError) as exc:
        warnings.warn(f"fit_or_load could not save the trained model to {path} ({exc}); "
                      f"it is returned unsaved and will be trained again next time",
                      RuntimeWarning, stacklevel=2)
    return model, history


def saved_run_path(name: str, build: Callable[[], nn.Module], train_data: Split,
                   test_data: Split, *, directory: str | os.PathLike | None = None,
                   **fit_kwargs) -> pathlib.Path:
    """Where fit_or_load keeps the run these arguments describe; nothing is trained or read.

    `path.exists()` then says whether fit_or_load would load it (a benchmark
    can report a long run without starting one by accident).
    """
    fit_kwargs = dict(fit_kwargs)
    fit_kwargs.pop("device", None)
    return _build_and_locate(name, build, train_data, test_data, directory, fit_kwargs)[1]


def _build_and_locate(name, build, train_data, test_data, directory, fit_kwargs):
    """The seeded model and its file: the key hashes name, architecture, data and recipe."""
    _check_name(name)
    torch.manual_seed(fit_kwargs.get("seed", 0))  # the initial weights depend on the seed too
    model = build()
    recipe = {**_FIT_DEFAULTS, **fit_kwargs}
    for k in ("progress", "eval_batch_size"):  # change how it runs, not what it learns
        recipe.pop(k, None)
    config = {"name": name, "model": repr(model), "train": fingerprint(train_data),
              "test": fingerprint(test_data), "fit": recipe}
    key = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
    folder = pathlib.Path(directory) if directory is not None else ARTIFACTS
    return model, folder / f"{name}-{key}.pt"


class CachedRunError(ValueError):
    """A file saved by fit_or_load exists but cannot be read back."""


def _check_name(name) -> None:
    """`name` becomes part of a file name: refuse anything that is not a plain stem."""
    if (not isinstance(name, str) or not name.strip() or name in (".", "..")
            or any(ch in name for ch in ("/", "\\", "\0", os.sep))
            or pathlib.PurePath(name).name != name):
        raise ValueError(f"fit_or_load's name must be a plain file name stem such as 'lenet' "
                         f"(no folders; pass directory= for where to save), got {name!r}")


def _check_writable(folder: pathlib.Path) -> None:
    """Create `folder` if needed and prove a file can be written there, or raise naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        kind = type(exc) if type(exc) is not OSError else PermissionError
        raise kind(f"fit_or_load cannot save trained models in {folder} ({exc.strerror or exc}); "
                   f"nothing was trained. Pass directory= a folder you can write to") from exc


def _save_run(path: pathlib.Path, payload: dict) -> None:
    """Write to a temporary file unique to this writer, then rename: never a half-saved run,
    and two runs saving the same model at once cannot remove each other's file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _load_run(path: pathlib.Path, model: nn.Module, device: torch.device,
              train_images: int) -> tuple[nn.Module, History]:
    """Read a run saved by fit_or_load into `model`, or raise CachedRunError naming the file."""
    try:
        if path.stat().st_size == 0:
            raise _Damaged("the file is empty")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch's own message would suggest unsafe loading
            raise _Damaged(f"it is not a readable PyTorch file, perhaps truncated or overwritten "
                           f"({type(exc).__name__})") from None
        if not isinstance(saved, dict) or not {"model", "history"} <= saved.keys():
            raise _Damaged("it does not hold a saved run (a 'model' state_dict and a 'history')")
        try:
            history = History.from_dict(json.loads(saved["history"]), loaded=True,
                                        train_images=train_images)
        except Exception as exc:
            raise _Damaged(f"its training history is unreadable ({type(exc).__name__})") from None
        try:
            model.load_state_dict(saved["model"])
        except Exception as exc:
            raise _Damaged(f"its weights do not fit this model ({type(exc).__name__})") from None
    except _Damaged as exc:
        raise CachedRunError(
            f"the saved run {path} cannot be loaded: {exc}. Train again with "
            f"fit_or_load(..., retrain=True), or delete the file") from None
    return model.to(device), history


class _Damaged(Exception):
    """Why a saved run cannot be loaded (turned into CachedRunError with the path)."""


# --------------------------------------------------------------------------- progress


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw a progress bar: see the module docstring for the rule."""
    if progress is not None:
        return bool(progress)
    if os.environ.get(PROGRESS_ENV, "").strip():  # set: on or off, parsed strictly
        return repro.env_flag(PROGRESS_ENV)
    if repro.fast_mode():
        return False
    kernel = _jupyter_kernel()
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))  # False under nbclient and nbval
    return sys.stderr.isatty()


def _jupyter_kernel():
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None)


class ProgressBar:
    """A one-line text progress bar: a display handle in Jupyter, '\\r' in a terminal.

    Redraws at most five times a second; does nothing at all when disabled.
    """

    def __init__(self, total: int, enabled: bool, width: int = 24):
        self.total, self.enabled, self.width = total, enabled, width
        self.done, self.last, self.handle = 0, 0.0, None
        self.jupyter = enabled and _jupyter_kernel() is not None

    def step(self, text: str) -> None:
        self.done += 1
        now = time.perf_counter()
        if self.enabled and (now - self.last > 0.2 or self.done == self.total):
            self.last = now
            self._draw(text)

    def note(self, text: str) -> None:
        if self.enabled:
            self._draw(text)

    def _draw(self, text: str) -> None:
        filled = self.width * self.done // max(self.total, 1)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}  {text}"
        if self.jupyter:
            from IPython.display import Pretty, display

            if self.handle is None:
                self.handle = display(Pretty(line), display_id=True)
            else:
                self.handle.update(Pretty(line))
        else:
            sys.stderr.write("\r" + line.ljust(78))
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and not self.jupyter:
            sys.stderr.write("\n")


def confusion(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Confusion matrix (num_classes, num_classes): entry [t, p] counts images of class t predicted p."""
    idx = labels.long() * num_classes + predictions.long()
    return torch.bincount(idx, minlength=num_classes ** 2).view(num_classes, num_classes)


def mean_and_spread(values) -> tuple[float, float]:
    """The mean of results from several seeds and their spread, max - min.

    A difference between two settings is worth believing only when it is
    larger than the spread of each setting across seeds.
    """
    v = [float(x) for x in values]
    if not v:
        raise ValueError("need at least one value")
    return sum(v) / len(v), max(v) - min(v)
