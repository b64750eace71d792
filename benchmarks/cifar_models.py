"""Benchmark, not a test: CIFAR-10 accuracy against training time for the book's modern networks.

Trains chapter 11's five networks (`models.cifar_networks()`) with the book's
CIFAR-10 recipe (`train.CIFAR`) for --epochs on chapter 7's protocol:
a tenth of the training set held out (seed 0) for validation, the test set
measured once per network. The runs are chapter 12's (same fit_or_load
names and arguments), so a run either made first is loaded by the other.
It adds the 40-epoch ResNet-20 of `benchmarks/cifar_resnet.py` when that run
is saved (it never starts it), and prints a published GPU result for scale.

    CNN_BOOK_DATA=../shared/datasets .venv/bin/python -m benchmarks.cifar_models
    CNN_BOOK_DATA=../shared/datasets .venv/bin/python -m benchmarks.cifar_models --fresh --only ResNet-20 --device cuda

The times are whatever the saved runs measured (chapter 12: one torch thread
per run) or this run measures with --threads; the table says which.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.lenet_alexnet import machine  # noqa: E402
from helpers import data, models, repro, runs, summary, train  # noqa: E402

AIRBENCH94 = {"accuracy": 0.94, "seconds": 3.83, "device": "one NVIDIA A100"}  # quoted


def channels_last(build):
    return lambda: build().to(memory_format=torch.channels_last)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    nets = models.cifar_networks()
    parser.add_argument("--epochs", type=int, default=2, help="epochs per network (chapter 12: 2)")
    parser.add_argument("--only", nargs="+", choices=list(nets), default=list(nets))
    parser.add_argument("--threads", type=int, default=1, help="torch threads for runs it trains")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    parser.add_argument("--fresh", action="store_true",
                        help="train every network now and save nothing (e.g. to time a GPU); "
                             "without it, saved runs are loaded")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else repro.pick_device()
    cifar = data.load_cifar10()
    train_split, val_split = cifar.train.hold_out(len(cifar.train) // 10, seed=0)
    info = machine(device)
    print(f"machine: {info['cpu']}, {info['cores']} cores, device {info['device']}")
    print(f"data:    {cifar.source.split(';')[0]}; {len(train_split):,} training, "
          f"{len(val_split):,} validation, {len(cifar.test):,} test images")
    rows = []
    for name in args.only:
        slug = name.lower().replace("-", "")
        if args.fresh:
            torch.manual_seed(0)
            net = channels_last(nets[name])()
            history = train.fit(net, train_split, val_split, train.CIFAR, epochs=args.epochs,
                                seed=0, device=device)
        else:
            net, history = runs.fit_or_load(f"ch11-{slug}", channels_last(nets[name]),
                                            train_split, val_split, train.CIFAR,
                                            epochs=args.epochs, seed=0, device=device)
        macs = summary.summarize(nets[name](), (3, 32, 32)).total_macs
        rows.append((name, args.epochs, history, train.evaluate(net, cifar.test).accuracy, macs))
    long_build = channels_last(nets["ResNet-20"])
    long_path = runs.locate("cifar-resnet20", long_build, train_split, val_split, train.CIFAR,
                            epochs=40, seed=0)
    if long_path.exists() and not args.fresh:
        net, history = runs.fit_or_load("cifar-resnet20", long_build, train_split, val_split,
                                        train.CIFAR, epochs=40, seed=0, device=device)
        rows.append(("ResNet-20", 40, history, train.evaluate(net, cifar.test).accuracy,
                     summary.summarize(nets["ResNet-20"](), (3, 32, 32)).total_macs))
    else:
        print(f"(the 40-epoch ResNet-20 is not saved in {long_path.parent}; "
              "python -m benchmarks.cifar_resnet --epochs 40 makes it, in about an hour)")

    print(f"\n{'network':10s} {'M MACs':>6s} {'epochs':>6s} {'device':>6s} {'val':>7s} "
          f"{'test':>7s} {'train s':>8s} {'images/s':>9s}  saved or trained")
    for name, epochs, h, test, macs in rows:
        rate = len(train_split) * epochs / h.train_seconds
        print(f"{name:10s} {macs / 1e6:6.1f} {epochs:6d} {h.device:>6s} {h.final.eval_accuracy:7.4f} "
              f"{test:7.4f} {h.train_seconds:8.0f} {rate:9.0f}  "
              f"{h.origin}")
    a = AIRBENCH94
    print(f"\nfor scale, published (not run here): airbench94 reaches {a['accuracy']:.0%} test "
          f"accuracy in {a['seconds']} s of training on {a['device']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
