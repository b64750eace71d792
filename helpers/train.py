"""Training and evaluation: a `Recipe`, `fit`, `evaluate`.

The loop is plain PyTorch, written out so it can be read: `model.train()`,
forward, loss, `backward`, `step` for every batch; then `model.eval()` and
`torch.no_grad()` to measure the validation data. `fit` returns a `History` of
per-epoch numbers instead of printing them; the chapter decides what to show.
Loading a finished run instead of training it again is `helpers.runs`' job.

A `Recipe` is everything that decides what a training run learns (epochs,
optimizer, learning rate, batch size, augmentation, seed): one frozen object
that `fit` reads, that the run store hashes, and that chapters share by name
(`train.CIFAR`). `recipe.replace(epochs=2)` gives a changed copy.

Progress bar: `progress=None` (the default) shows one only where someone is
watching, i.e. in a terminal (stderr is a TTY) or in a Jupyter front end that
can answer `input()`. Tools that run notebooks unattended (nbclient, used by
`tools.notebooks execute`, and nbval) cannot answer input, so they get no bar,
and neither does CNN_BOOK_FAST=1 (CI). The bar is tqdm's plain text one, never
a widget, so no widget state can leak into a committed notebook.
CNN_BOOK_PROGRESS=1/0 or progress=True/False overrides the choice.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from helpers import checks, repro
from helpers.data import Split, alternating_flips

PROGRESS_ENV = "CNN_BOOK_PROGRESS"
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "linear")


# --------------------------------------------------------------------------- the recipe


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train: every choice that decides what a run learns, and nothing else.

    Numbers may be given as Python numbers, NumPy scalars or 0-d tensors;
    they are stored as plain ints and floats, so `weight_decay=0` and
    `weight_decay=0.0` are one recipe. flip=True mirrors each training image
    left-right with probability 1/2; flip="alternate" mirrors a random half in
    the first epoch and then, every epoch, exactly the images the epoch before
    did not (`data.alternating_flips`). shift=s moves each image by up to s
    pixels (a zero-padded random crop; reflect=True pads by mirroring the edge). How a run is executed (device, progress bar,
    evaluation batch size) is not part of the recipe. `epochs` may have a
    fraction: epochs=1.5 trains one epoch and half of the next, and a cosine
    schedule spans the 1.5 (how chapter 12 gives networks of different speeds
    one budget of time).
    """

    epochs: int | float = 1
    lr: float = 1e-3
    optimizer: str = "adam"        # one of OPTIMIZERS
    momentum: float = 0.9          # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"     # "cosine": lr falls smoothly to 0 over the run, one step per batch
    batch_size: int = 64
    shuffle: bool = True           # a new order every epoch
    flip: bool | str = False       # True, False or "alternate"
    shift: int = 0
    seed: int = 0                  # the initial weights, the batch order and the augmentation
    # Added for fast training (airbench-style); at these defaults a run trains and is keyed as before.
    label_smoothing: float = 0.0   # the target puts this much probability evenly on all classes
    nesterov: bool = False         # SGD only: Nesterov's momentum (the step looks ahead)
    warmup: float = 0.0            # this fraction of the steps raises lr linearly from 0 first
    ema: float = 0.0               # > 0: keep an exponential moving average of the weights, decay ema
    autocast: bool = False         # compute in bfloat16 where it is safe (torch.autocast)
    reflect: bool = False          # shifted images are padded by mirroring their edge, not zeros
    bn_bias_lr: float = 1.0        # BatchNorm's shifts (biases) learn this many times faster

    def __post_init__(self):
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        epochs = checks.as_float(self.epochs, "epochs", low=0.0)
        if epochs == 0:
            raise ValueError("epochs must be more than 0, got 0")
        fix("epochs", int(epochs) if epochs.is_integer() else epochs)  # 2.0 and 2 are one recipe
        fix("lr", checks.as_float(self.lr, "lr", low=0.0))
        fix("optimizer", checks.one_of(self.optimizer, "optimizer", OPTIMIZERS))
        fix("momentum", checks.as_float(self.momentum, "momentum", low=0.0))
        fix("weight_decay", checks.as_float(self.weight_decay, "weight_decay", low=0.0))
        fix("schedule", checks.one_of(self.schedule, "schedule", SCHEDULES))
        fix("batch_size", checks.as_int(self.batch_size, "batch_size", low=1))
        fix("shuffle", checks.as_bool(self.shuffle, "shuffle"))
        fix("flip", self.flip if self.flip == "alternate" else checks.as_bool(self.flip, "flip"))
        fix("shift", checks.as_int(self.shift, "shift", low=0))
        fix("seed", checks.as_int(self.seed, "seed", low=0, high=2**64 - 1))
        fix("label_smoothing", checks.as_float(self.label_smoothing, "label_smoothing", low=0.0))
        fix("nesterov", checks.as_bool(self.nesterov, "nesterov"))
        fix("warmup", checks.as_float(self.warmup, "warmup", low=0.0))
        fix("ema", checks.as_float(self.ema, "ema", low=0.0))
        fix("autocast", checks.as_bool(self.autocast, "autocast"))
        fix("reflect", checks.as_bool(self.reflect, "reflect"))
        fix("bn_bias_lr", checks.as_float(self.bn_bias_lr, "bn_bias_lr", low=0.0))
        if self.bn_bias_lr == 0:
            raise ValueError("bn_bias_lr must be above 0 (freeze the biases instead), got 0")
        for name in ("label_smoothing", "warmup", "ema"):
            if getattr(self, name) >= 1:
                raise ValueError(f"{name} must be less than 1, got {getattr(self, name)}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov=True needs optimizer='sgd' and a momentum above 0")

    def replace(self, **changes) -> Recipe:
        """A copy with some fields changed: CIFAR.replace(epochs=2, seed=1)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"a Recipe has no field {unknown[0]!r}; its fields are "
                            f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key_dict(self) -> dict:
        """as_dict without the later fields left at their defaults: what a run's key hashes,
        so that the runs published before those fields existed keep their keys."""
        return {k: v for k, v in self.as_dict().items() if k not in LATER or v != LATER[k]}

    def augment(self, n: int, epoch: int) -> dict | bool:
        """What Split.batches' `augment` argument needs in `epoch` (from 1) of n images."""
        if not (self.flip or self.shift):
            return False
        flip = (alternating_flips(n, epoch, self.seed) if self.flip == "alternate"
                else self.flip)
        return {"flip": flip, "padding": self.shift, **({"reflect": True} if self.reflect else {})}


# Recipe fields added after runs were published, with their defaults (see Recipe.key_dict).
LATER = {"label_smoothing": 0.0, "nesterov": False, "warmup": 0.0, "ema": 0.0, "autocast": False,
         "reflect": False, "bn_bias_lr": 1.0}


# The book's CIFAR-10 recipe for the modern networks (chapters 12 and 13,
# benchmarks/cifar_resnet.py): SGD with momentum, learning rate 0.1 lowered to
# zero by a cosine schedule, weight decay 5e-4, batches of 128, random flips
# and 4-pixel shifts. Chapter 7's small VGG used the same with lr 0.05.
CIFAR = Recipe(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="cosine",
               batch_size=128, flip=True, shift=4)

# The book's fast CIFAR-10 recipe (chapter "Training fast", benchmarks/cifar_speedrun.py), for
# models.fast_network: airbench94's settings (Jordan 2024) written for a mean loss. Large
# batches, SGD with Nesterov momentum 0.85, lr 1.5 reached by a warm-up over a fifth of the
# steps and lowered linearly to 0, weight decay 1.3e-3, BatchNorm's biases learning 64 times
# faster, label smoothing 0.2, the alternating flip and 2-pixel reflected shifts, bfloat16 autocast.
FAST = Recipe(epochs=16, optimizer="sgd", lr=1.5, momentum=0.85, nesterov=True,
              weight_decay=1.3e-3, schedule="linear", warmup=0.2, batch_size=1024,
              flip="alternate", shift=2, reflect=True, label_smoothing=0.2, autocast=True,
              bn_bias_lr=64.0)


# --------------------------------------------------------------------------- results


@dataclasses.dataclass
class Epoch:
    """What one epoch measured. Train numbers are averaged over the epoch's batches
    while the weights were still changing; eval numbers (the validation data fit
    was given) come after the epoch."""

    epoch: int
    train_loss: float
    train_accuracy: float
    eval_loss: float
    eval_accuracy: float
    images: int           # training images seen this epoch
    train_seconds: float  # wall time of the training part alone (no evaluation)
    seconds: float        # wall time of the whole epoch: training, then evaluation

    @property
    def images_per_s(self) -> float:
        """Training throughput: images per second of forward + backward + step."""
        return self.images / self.train_seconds


@dataclasses.dataclass
class History:
    """The per-epoch record of a `fit`: the recipe, where it ran, and where it came from.

    `origin` is "trained" for a run fit just made; helpers.runs sets "store"
    (read from the local run store), "published" (downloaded) or "published
    history" (the history alone downloaded, runs.fit_or_load_history) for a loaded one.
    """

    epochs: list[Epoch]
    recipe: Recipe
    device: str
    threads: int
    origin: str = "trained"

    def column(self, name: str) -> list[float]:
        """One field over all epochs, e.g. history.column('eval_accuracy')."""
        return [getattr(e, name) for e in self.epochs]

    @property
    def loaded(self) -> bool:
        """True when the run was loaded (local store or published) instead of trained now."""
        return self.origin != "trained"

    @property
    def final(self) -> Epoch:
        if not self.epochs:
            raise ValueError("this History has no epochs")
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
        lines = ["epoch  train loss  train acc  val loss  val acc   img/s  train s  epoch s"]
        for e in self.epochs:
            lines.append(f"{e.epoch:5d}  {e.train_loss:10.4f}  {e.train_accuracy:9.4f}  "
                         f"{e.eval_loss:8.4f}  {e.eval_accuracy:7.4f}  {e.images_per_s:6.0f}  "
                         f"{e.train_seconds:7.1f}  {e.seconds:7.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"epochs": [dataclasses.asdict(e) for e in self.epochs],
                "recipe": self.recipe.as_dict(), "device": self.device, "threads": self.threads}

    @classmethod
    def from_dict(cls, d: dict, origin: str = "trained") -> History:
        """Rebuild a History from to_dict's output."""
        return cls([Epoch(**e) for e in d["epochs"]], Recipe(**d["recipe"]), d["device"],
                   d["threads"], origin)


@dataclasses.dataclass
class Evaluation:
    """Loss averaged over every image (not over batches), accuracy, and optionally predictions."""

    loss: float
    accuracy: float
    correct: int
    total: int
    predictions: torch.Tensor | None = None  # (N,) predicted class per image, on the CPU


# --------------------------------------------------------------------------- evaluate and fit

# Images per forward pass when evaluating. Small batches keep each layer's
# activations in the CPU's caches: on 2 cores (Intel Xeon, torch 2.14),
# chapter 12's five networks evaluated 1.4 to 2.5 times faster in batches of
# 64 than of 1,000, and MNIST's LeNet no slower. Results depend on it only
# through float rounding (the mean loss moved by 1e-8 relative).
EVAL_BATCH = 64


def evaluate(model: nn.Module, data: Split, batch_size: int = EVAL_BATCH,
             device: torch.device | str | None = None, predictions: bool = False,
             flip: bool = False, shift: int = 0) -> Evaluation:
    """Mean cross-entropy and accuracy of `model` on every image of `data`.

    The loss is summed per image and divided by the number of images, so a
    smaller last batch counts exactly as much as it should. The model is put
    in eval mode (BatchNorm uses its running statistics) and its previous mode
    is restored afterwards, also after an error. flip=True averages the logits
    of each image and its mirror image (left-right), a cheap test-time
    augmentation for networks trained with random flips; it costs a second
    forward pass. shift=s also averages the logits of two copies moved
    diagonally by s pixels, one each way (edges mirrored): 3 views, or 6 with
    flip, each costing a forward pass.
    """
    check_model(model, "model")
    check_split(data, "data")
    if len(data) == 0:
        raise ValueError("evaluate got an empty split (0 images): there is nothing to measure; "
                         "check the split, e.g. a take(n) with n too small, or an empty data folder")
    batch_size = checks.as_int(batch_size, "batch_size", low=1)
    flip = checks.as_bool(flip, "flip")
    shift = checks.as_int(shift, "shift", low=0, high=min(data.image_shape[1:]) - 1)
    device = repro.pick_device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, preds = 0.0, 0, []
    try:
        with torch.no_grad():
            for x, y in data.batches(batch_size, device=device):
                logits = _views_mean(model, x, flip, shift)             # (B, classes)
                total_loss += F.cross_entropy(logits, y, reduction="sum").item()
                pred = logits.argmax(dim=1)
                correct += (pred == y).sum().item()
                if predictions:
                    preds.append(pred.cpu())
    finally:
        model.train(was_training)
    n = len(data)
    return Evaluation(total_loss / n, correct / n, correct, n,
                      torch.cat(preds) if predictions else None)


def _views_mean(model: nn.Module, x: torch.Tensor, flip: bool, shift: int) -> torch.Tensor:
    """The mean of the model's logits over the test-time views of batch x (see evaluate)."""
    views = tta_views(x, flip, shift)
    return sum(model(v) for v in views) / len(views)


def tta_views(x: torch.Tensor, flip: bool = True, shift: int = 0) -> list[torch.Tensor]:
    """The views of a batch (N, C, H, W) that test-time augmentation averages over.

    The batch itself; with shift=s, two copies moved diagonally by s pixels, one
    down-right and one up-left, their uncovered edge filled by mirroring; with
    flip=True, the mirror image (left-right) of each of those. 1, 2, 3 or 6 views.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"tta_views needs a batch (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    flip = checks.as_bool(flip, "flip")
    shift = checks.as_int(shift, "shift", low=0, high=min(x.shape[2:]) - 1)
    views = [x]
    if shift:
        h, w = x.shape[2:]
        padded = F.pad(x, (shift,) * 4, mode="reflect")
        views += [padded[..., :h, :w], padded[..., 2 * shift:, 2 * shift:]]  # moved down-right, up-left
    if flip:
        views += [v.flip(3) for v in views]                     # flip the width axis
    return views


def make_optimizer(recipe: Recipe, params) -> torch.optim.Optimizer:
    """The recipe's optimizer ('adam', 'adamw' or 'sgd' with momentum) over `params`.

    `params` is a model or its parameters. With recipe.bn_bias_lr != 1 (a model
    needed) the biases of its BatchNorm layers get their own group: lr times
    bn_bias_lr and weight decay divided by it, so that they shrink by the same
    fraction per step as every other parameter (airbench's "bias scaler").
    """
    r = recipe
    if isinstance(params, nn.Module):
        model = params
        params = list(model.parameters())
        if r.bn_bias_lr != 1:
            biases = [m.bias for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase)
                      and m.bias is not None]
            ids = {id(b) for b in biases}
            params = [{"params": [p for p in params if id(p) not in ids]},
                      {"params": biases, "lr": r.lr * r.bn_bias_lr,
                       "weight_decay": r.weight_decay / r.bn_bias_lr}]
    elif r.bn_bias_lr != 1:
        raise ValueError("bn_bias_lr needs the model, not its parameters: make_optimizer(recipe, model)")
    if r.optimizer == "adam":
        return torch.optim.Adam(params, lr=r.lr, weight_decay=r.weight_decay)
    if r.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=r.lr, weight_decay=r.weight_decay)
    return torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay,
                           nesterov=r.nesterov)


def make_schedule(recipe: Recipe, opt: torch.optim.Optimizer, steps: int):
    """The recipe's learning-rate schedule over `steps` batches (None for a constant rate).

    A warm-up raises the rate linearly over its share of the steps; then
    "cosine" lowers it to 0 along half a cosine, "linear" along a straight
    line (with a warm-up: a triangle), "constant" keeps it.
    """
    if recipe.warmup == 0:
        if recipe.schedule == "constant":
            return None
        if recipe.schedule == "cosine":   # the book's runs before warm-up existed: kept exactly
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    warm = round(recipe.warmup * steps)

    def factor(step: int) -> float:       # the multiplier of lr for step `step` (from 0)
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, steps - warm)
        if recipe.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * t))
        return 1 - t if recipe.schedule == "linear" else 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def weight_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      layer: type[nn.Module] = nn.Conv2d, kernel_size: int | None = 3) -> list[float]:
    """Norm of d(cross-entropy)/d(weight) of every `layer` in `model` for one batch, input side first.

    One forward and backward pass in train mode (BatchNorm normalises with the
    batch's statistics, as in training), after which the model is as before:
    its mode and every buffer (BatchNorm's running statistics) are restored,
    also after an error; the gradients are left set. With layer=nn.Conv2d,
    `kernel_size` keeps only k x k convolutions (3 by default, which leaves out
    1x1 projection shortcuts); None keeps all. A layer without a weight, or
    whose weight got no gradient (frozen, or not used by forward), gives nan.
    """
    check_model(model, "model")
    layers = [m for m in model.modules() if isinstance(m, layer)
              and (kernel_size is None or getattr(m, "kernel_size", None) in (None, (kernel_size,) * 2))]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no {layer.__name__} layer"
                         + (f" with kernel size {kernel_size}" if kernel_size else ""))
    was_training = model.training
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    try:
        model.train()
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
    weights = [getattr(m, "weight", None) for m in layers]
    return [w.grad.norm().item() if isinstance(w, torch.Tensor) and w.grad is not None
            else math.nan for w in weights]


def training_speed(model: nn.Module, x: torch.Tensor, y: torch.Tensor, autocast: bool = False,
                   steps: int = 5) -> float:
    """Training images/s of `model` on one batch (x, y): the median of `steps` timed steps.

    Each step is forward, cross-entropy, backward and an SGD step (lr 0.01,
    momentum 0.9), under bfloat16 autocast if `autocast`; two steps before the
    timed ones warm up (the first allocates memory and picks algorithms). The
    model is trained by the steps: pass a copy or a throwaway network.
    """
    check_model(model, "model")
    steps = checks.as_int(steps, "steps", low=1)
    autocast = checks.as_bool(autocast, "autocast")
    device = x.device
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    timed = sorted(times[2:])
    return len(x) / timed[len(timed) // 2]


def fit(model: nn.Module, train_data: Split, eval_data: Split, recipe: Recipe | None = None, *,
        device: torch.device | str | None = None, eval_batch_size: int = EVAL_BATCH,
        progress: bool | None = None, **changes) -> History:
    """Train `model` with cross-entropy as `recipe` says; evaluate on `eval_data` after each epoch.

    `eval_data` is the validation data the chapter chooses with (never the
    test set). Keyword arguments change single fields of the recipe:
    fit(model, tr, va, train.CIFAR, epochs=2) or fit(model, tr, va, epochs=2, lr=0.01).
    Batches are drawn in an order (and augmented) from a generator seeded with
    recipe.seed, so the same model, data and recipe give the same losses.
    `device` defaults to repro.pick_device() (cuda, then mps, then cpu); the
    model is moved there. Every argument is checked before the first step.
    """
    recipe = as_recipe(recipe, changes)
    check_model(model, "model")
    check_split(train_data, "train_data")
    check_split(eval_data, "eval_data")
    eval_batch_size = checks.as_int(eval_batch_size, "eval_batch_size", low=1)
    for what, split in (("train_data", train_data), ("eval_data", eval_data)):
        if len(split) == 0:
            raise ValueError(f"fit got an empty {what} (0 images); nothing to train or measure on")
    _check_last_batch(model, train_data, recipe.batch_size)
    device = repro.pick_device(device)
    enabled = progress_enabled(progress)
    model.to(device)
    opt = make_optimizer(recipe, model)
    per_epoch = train_data.num_batches(recipe.batch_size)
    steps = max(1, round(recipe.epochs * per_epoch))   # the last epoch may be cut short
    rounds = math.ceil(steps / per_epoch)
    sched = make_schedule(recipe, opt, steps)
    averaged = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(recipe.ema),
        use_buffers=True) if recipe.ema else None)      # BatchNorm's statistics averaged too
    generator = torch.Generator().manual_seed(recipe.seed)
    history = History([], recipe, str(device), torch.get_num_threads())
    done = 0                                                            # steps taken
    bar = tqdm(total=steps, disable=not enabled, file=sys.stderr, mininterval=0.2,
               dynamic_ncols=True, leave=True)
    try:
        for epoch in range(1, rounds + 1):
            start = time.perf_counter()
            model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            for batch, (x, y) in enumerate(train_data.batches(
                    recipe.batch_size, shuffle=recipe.shuffle, generator=generator,
                    augment=recipe.augment(len(train_data), epoch), device=device), start=1):
                if done == steps:
                    break                                               # a fractional last epoch
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.autocast):
                    logits = model(x)                                   # (B, classes)
                    loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"training stopped: the loss became {loss.item()} at epoch {epoch}, batch "
                        f"{batch} of {per_epoch}. Lower the learning rate (lr={recipe.lr!r}), or "
                        f"check the inputs and the model's weights for NaN or infinite values")
                opt.zero_grad()
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                if averaged is not None:
                    averaged.update_parameters(model)
                loss_sum += loss.item() * len(y)
                correct += (logits.argmax(1) == y).sum().item()
                seen += len(y)
                done += 1
                bar.update()
                bar.set_description(f"epoch {epoch}/{rounds} loss {loss_sum / seen:.4f}",
                                    refresh=False)
            train_time = time.perf_counter() - start
            check_finite(model, f"after epoch {epoch}")
            result = evaluate(averaged.module if averaged is not None else model, eval_data,
                              eval_batch_size, device)
            history.epochs.append(Epoch(epoch, loss_sum / seen, correct / seen, result.loss,
                                        result.accuracy, seen, train_seconds=train_time,
                                        seconds=time.perf_counter() - start))
            bar.set_postfix_str(f"val acc {result.accuracy:.4f}")
    finally:
        bar.close()
    if averaged is not None:                          # the model fit returns is the average
        model.load_state_dict(averaged.module.state_dict())
    return history


class TrainingDiverged(FloatingPointError):
    """The training loss, or a weight, became NaN or infinite; fit stops there."""


def check_finite(model: nn.Module, when: str) -> None:
    """Raise TrainingDiverged if any weight or buffer of `model` is NaN or infinite."""
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise TrainingDiverged(f"the model's {name} is not finite {when}: training diverged "
                                   f"(lower the learning rate); the run is not kept")


def check_model(model, what: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{what} must be a torch nn.Module, got {type(model).__name__}")


def check_split(split, what: str) -> None:
    if not isinstance(split, Split):
        hint = (" (a Dataset holds two: pass dataset.train or a split cut from it)"
                if hasattr(split, "train") and hasattr(split, "test") else "")
        raise TypeError(f"{what} must be a helpers.data.Split{hint}, got {type(split).__name__}")


def as_recipe(recipe: Recipe | None, changes: dict) -> Recipe:
    """`recipe` (default: Recipe()) with the keyword `changes` applied; TypeError for a non-Recipe."""
    if recipe is None:
        recipe = Recipe()
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a train.Recipe (e.g. train.CIFAR, or Recipe(lr=0.01)), "
                        f"got {type(recipe).__name__}; single fields go in as keywords: "
                        f"fit(..., lr=0.01)")
    return recipe.replace(**changes)


def _check_last_batch(model: nn.Module, data: Split, batch_size: int) -> None:
    """Refuse, before training, a last batch of one image that BatchNorm cannot normalise.

    With one image a BatchNorm1d (or a BatchNorm2d on 1x1 maps) has one value per
    channel and torch raises, but only when that batch comes, after a whole epoch.
    A copy of the model is tried on one image in train mode to find out.
    """
    n = len(data)
    if n % batch_size != 1 or not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                                      for m in model.modules()):
        return
    x, _ = next(data.batches(1, device=model_device(model)))
    try:
        with torch.no_grad():
            copy.deepcopy(model).train()(x)
    except ValueError as exc:
        if "more than 1 value per channel" not in str(exc):
            raise
        raise ValueError(f"{n} training images in batches of {batch_size} leave a last batch of "
                         f"one image, which this model's BatchNorm cannot normalise in training; "
                         f"pick another batch_size, or take({n - 1}) images") from None


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# --------------------------------------------------------------------------- progress


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw a progress bar: see the module docstring for the rule."""
    if progress is not None:
        return checks.as_bool(progress, "progress")
    if repro.setting(PROGRESS_ENV):  # set: on or off, parsed strictly
        return repro.env_flag(PROGRESS_ENV)
    if repro.fast_mode():
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))  # False under nbclient and nbval
    return sys.stderr.isatty()


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
