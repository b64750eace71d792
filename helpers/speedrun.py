"""The ideas of the fast CIFAR-10 recipe, each as one change that removes it (chapter "Training fast").

    build, recipe = speedrun.variant("no whitening", train_split)
    model, history = runs.fit_or_load("speed-no-whitening-seed0", build, train_split, val_split,
                                      recipe.replace(epochs=2, seed=0))

`VARIANTS` names each change: to `models.fast_network` (the network and its
starting weights) or to `train.FAST` (the recipe). "final" changes nothing,
and "chapter 12's recipe" trains the same network with the recipe of chapter
12 (`train.CIFAR`, in bfloat16 like the others), the starting point. Measuring each variant at one short
budget, with seeds, gives each idea's effect against the spread between seeds;
benchmarks/cifar_speedrun.py --ablate trains them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from helpers import models, train
from helpers.data import Split

# name: (changes to models.fast_network, changes to train.FAST)
VARIANTS: dict[str, tuple[dict, dict]] = {
    "final": ({}, {}),
    "no whitening": ({"whiten": False}, {}),
    "no identity init": ({"identity_init": False}, {}),
    "torch's BatchNorm": ({"bn_momentum": 0.1, "bn_scale": True}, {}),
    "no logit scale": ({"logit_scale": 1.0}, {}),
    "no bias scaling": ({}, {"bn_bias_lr": 1.0}),
    "no label smoothing": ({}, {"label_smoothing": 0.0}),
    "no warm-up": ({}, {"warmup": 0.0}),
    "no Nesterov": ({}, {"nesterov": False}),
    "random flip": ({}, {"flip": True}),
    "zero-padded shift": ({}, {"reflect": False}),
    "no shift": ({}, {"shift": 0, "reflect": False}),
    "float32": ({}, {"autocast": False}),
    "with EMA": ({}, {"ema": 0.99}),
    "chapter 12's recipe": ({}, {f: getattr(train.CIFAR, f) for f in train.Recipe.__dataclass_fields__
                                 if f not in ("epochs", "seed", "autocast")}),
}


def variant(name: str, train_data: Split) -> tuple[Callable[[], nn.Module], train.Recipe]:
    """The build function and the recipe of variant `name` (a key of VARIANTS)."""
    if name not in VARIANTS:
        raise ValueError(f"no variant {name!r}; the variants are {', '.join(map(repr, VARIANTS))}")
    network, recipe = VARIANTS[name]
    return models.fast_network(train_data, **network), train.FAST.replace(**recipe)


def run_name(name: str, seed: int) -> str:
    """The run store's name for a variant's run: 'speed-no-whitening-seed0'."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return f"speed-{'-'.join(filter(None, slug.split('-')))}-seed{seed}"
