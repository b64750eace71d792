"""Reproducibility: explicit seeding, device choice, the CI budget flag, and the settings.

Nothing here runs on import. A chapter calls ``seed_everything`` itself, so
the reader sees where randomness is fixed. This module is the one place that
reads the book's environment variables (SETTINGS lists them all); the other
modules ask `setting(name)` or `env_flag(name)`.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from helpers import checks

FAST_ENV = "CNN_BOOK_FAST"
DEVICE_ENV = "CNN_BOOK_DEVICE"
# Every environment variable the book reads, and what it changes.
SETTINGS = {
    FAST_ENV: "1: the small CI budget (fewer images and epochs in the training chapters)",
    DEVICE_ENV: "cpu, cuda, cuda:1, mps: this device instead of the best one there is",
    "CNN_BOOK_DATA": "a folder holding the datasets (mnist/, cifar10-jpeg.tar.gz, ...)",
    "CNN_BOOK_OFFLINE": "1: never download (datasets or published runs)",
    "CNN_BOOK_STORE": "the run store's folder, instead of artifacts/",
    "CNN_BOOK_RETRAIN": "1: runs.fit_or_load always trains",
    "CNN_BOOK_RUN_LOG": "a file to which runs.fit_or_load appends every run it returns",
    "CNN_BOOK_RUNS_URL": "where published runs are downloaded from, instead of the manifest's URL",
    "CNN_BOOK_PUBLISHED": "another manifest of published runs than helpers/published.json",
    "CNN_BOOK_PROGRESS": "1 or 0: draw the training progress bar, or never",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def seed_everything(seed: int) -> int:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) generators; returns the seed."""
    seed = checks.as_int(seed, "seed", low=0, high=2**32 - 1)  # NumPy's generator takes 32 bits
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def setting(name: str) -> str:
    """The value of one of the book's environment variables (SETTINGS), stripped; "" when unset."""
    if name not in SETTINGS:
        raise KeyError(f"{name!r} is not one of the book's settings: {', '.join(SETTINGS)}")
    return os.environ.get(name, "").strip()


def env_flag(name: str) -> bool:
    """An on/off environment variable, read strictly: the one parser for every such flag.

    1/true/yes/on mean True; 0/false/no/off, an empty value or an unset
    variable mean False (case and surrounding spaces do not matter). Anything
    else raises ValueError naming the variable, so a typo such as "maybe" is
    never silently taken as off.
    """
    value = setting(name).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"environment variable {name} must be one of 1/0/true/false/yes/no/on/off "
                     f"(or empty), got {os.environ[name]!r}")


def fast_mode() -> bool:
    """True when CNN_BOOK_FAST asks for the small CI budget (1/true/yes/on)."""
    return env_flag(FAST_ENV)


def budget(full, fast):
    """Pick the full-run value, or the small one when fast_mode() is on."""
    return fast if fast_mode() else full


def pick_device(prefer: str | None = None) -> torch.device:
    """The best available device: cuda, then mps, then cpu.

    `prefer` (or the CNN_BOOK_DEVICE environment variable) forces one; asking
    for a device that is not available raises ValueError.
    """
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(f"device must be a str such as 'cpu' or 'cuda:0', or a torch.device, "
                        f"got {prefer!r}")
    from_env = not prefer and bool(setting(DEVICE_ENV))
    wanted = prefer or setting(DEVICE_ENV) or None
    where = f" (from the environment variable {DEVICE_ENV})" if from_env else ""
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if wanted is not None:
        kind = wanted.split(":")[0]
        if kind not in available:
            raise ValueError(f"unknown device {wanted!r}{where}; use one of cuda, mps, cpu")
        if not available[kind]:
            raise ValueError(f"device {wanted!r} was asked for{where} but is not available here")
        try:
            return torch.device(wanted)
        except RuntimeError as exc:
            raise ValueError(f"device {wanted!r}{where} is not a device name: {exc}") from None
    for kind in ("cuda", "mps"):
        if available[kind]:
            return torch.device(kind)
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
