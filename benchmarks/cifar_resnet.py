"""Benchmark, not a test: how far ResNet-20 gets on real CIFAR-10 in a fixed budget on this machine.

Trains `models.ResNetSmall(blocks=3, widths=(16, 32, 64))`, He et al.'s
ResNet-20 for CIFAR-10 (272,474 parameters), with one recipe: SGD with
momentum 0.9, learning rate 0.1 lowered to zero by a cosine schedule over
--epochs, weight decay 5e-4, batches of 128, random flips and 4-pixel shifts,
channels-last memory. The protocol is chapter 7's: a tenth of the training
set held out (seed 0) for validation after every epoch, the official test set
measured once at the end.

    CNN_BOOK_DATA=../shared/datasets .venv/bin/python -m benchmarks.cifar_resnet --epochs 30
    .venv/bin/python -m benchmarks.cifar_resnet --epochs 1 --train 2000 --json out.json

It always trains; with the full training split it also saves the run with
fit_or_load (name "cifar-resnet20", in artifacts/), so that a chapter making
the same call loads it instead of training. Prints the validation accuracy and
the cumulative training time after every epoch (evaluation not included), the
test accuracy, and the machine and its load before and after.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.lenet_alexnet import load, machine  # noqa: E402
from helpers import data, models, repro, runs, train  # noqa: E402

RECIPE = train.CIFAR


def build() -> torch.nn.Module:
    """ResNet-20 in channels-last memory (faster convolutions on CPUs)."""
    return models.ResNetSmall(blocks=3, widths=(16, 32, 64)).to(memory_format=torch.channels_last)


def setup(args: argparse.Namespace) -> tuple:
    """Threads, device and chapter 12's CIFAR-10 protocol from the parsed arguments (threads,
    device, train); prints the machine and the data. Returns (device, cifar, train_split,
    val_split, machine info)."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else repro.pick_device()
    cifar = data.load_cifar10()
    train_split, val_split = cifar.train.hold_out(len(cifar.train) // 10, seed=0)
    train_split = train_split.take(args.train)
    info = machine(device)
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['torch_threads']} torch threads, "
          f"device {info['device']}")
    print(f"data:    {cifar.source}; {len(train_split):,} training, {len(val_split):,} validation, "
          f"{len(cifar.test):,} test images")
    return device, cifar, train_split, val_split, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write results here")
    args = parser.parse_args(argv)

    device, cifar, train_split, val_split, info = setup(args)
    print(f"         {args.epochs} epochs")
    full = args.train is None
    before = load()
    start = time.perf_counter()
    if full:   # saved for a chapter that makes the same call
        model, history = runs.fit_or_load("cifar-resnet20", build, train_split, val_split,
                                          RECIPE, epochs=args.epochs, seed=0, device=device,
                                          retrain=True)
    else:
        torch.manual_seed(0)
        model = build()
        history = train.fit(model, train_split, val_split, RECIPE, epochs=args.epochs, seed=0,
                            device=device)
    wall = time.perf_counter() - start
    after = load()
    test = train.evaluate(model, cifar.test)
    elapsed = 0.0
    for e in history.epochs:
        elapsed += e.train_seconds
        print(f"  epoch {e.epoch:3d}  train loss {e.train_loss:.4f}  validation accuracy "
              f"{e.eval_accuracy:.4f}  training time so far {elapsed:7.1f} s")
    print(f"test accuracy {test.accuracy:.4f} after {history.train_seconds:.1f} s of training "
          f"({wall:.1f} s with the validation passes), {len(train_split) * args.epochs / history.train_seconds:,.0f} "
          f"training images/s")
    print(f"load average (1, 5, 15 min): before {before}, after {after}")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "recipe": RECIPE.as_dict(), "epochs": args.epochs,
            "train_images": len(train_split), "test_accuracy": test.accuracy,
            "train_seconds": history.train_seconds, "wall_seconds": wall,
            "history": history.to_dict(), "load_before": before, "load_after": after}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
