"""Training benchmarks (not tests): test accuracy and images/s of two reference runs.

    python -m benchmarks.train_bench                 # both runs
    python -m benchmarks.train_bench --only fashion  # just the LeNet on Fashion-MNIST

(a) The seeds' MNIST network (Adam 1e-3, batch 64, 10 epochs) on whatever
    MNIST helpers.data finds: full MNIST if present or downloadable, else the
    10,000-digit subset shipped with the book; the output says which. The
    target on full MNIST is >= 99.0% test accuracy.
(b) LeNet (ReLU, max pooling, BatchNorm) on full Fashion-MNIST (70,000 real
    images; offline through Debian's dataset-fashion-mnist). Target: >= 0.89
    test accuracy within 10 epochs and under 90 s of training on a 2-core CPU.

Training time is the sum of the epochs' training loops (forward, backward,
step); evaluation after each epoch is reported separately. Numbers depend on
the machine and on its load; the script prints both.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch

from helpers import data, models, repro, train


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"load average {load:.2f}")


def report(name: str, ds: data.Dataset, history: train.History, wall: float) -> None:
    e = history.epochs
    train_s = sum(len(ds.train) / x.images_per_s for x in e)
    print(f"\n== {name}")
    print(f"data:   {ds.source}")
    print(history.table())
    print(f"result: test accuracy {history.final.eval_accuracy:.4f} after {len(e)} epochs "
          f"(best {max(history.column('eval_accuracy')):.4f})")
    print(f"speed:  {len(ds.train) * len(e) / train_s:,.0f} training images/s, "
          f"training {train_s:.1f} s, wall {wall:.1f} s incl. evaluation, device {history.device}")
    print(f"machine: {machine()}", flush=True)


def seeds_mnist(args) -> train.History:
    ds = data.load_mnist()
    torch.manual_seed(args.seed)
    model = models.SeedsMNISTNet()
    start = time.perf_counter()
    h = train.fit(model, ds.train, ds.test, epochs=args.epochs or 10, lr=1e-3, optimizer="adam",
                  batch_size=64, seed=args.seed, device=args.device)
    report("(a) the seeds' MNIST network, Adam 1e-3, batch 64", ds, h, time.perf_counter() - start)
    return h


def lenet_fashion(args) -> train.History:
    ds = data.load_fashion_mnist()
    torch.manual_seed(args.seed)
    model = models.LeNet(in_channels=1, num_classes=10, image_size=28, padding=2,
                         batch_norm=not args.no_bn)
    start = time.perf_counter()
    h = train.fit(model, ds.train, ds.test, epochs=args.epochs or 10, lr=args.lr,
                  optimizer="adam", schedule="cosine", batch_size=args.batch_size,
                  seed=args.seed, device=args.device)
    bn = "without" if args.no_bn else "with"
    report(f"(b) LeNet {bn} BatchNorm on Fashion-MNIST, Adam {args.lr:g} cosine, "
           f"batch {args.batch_size}", ds, h, time.perf_counter() - start)
    return h


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["mnist", "fashion"])
    parser.add_argument("--epochs", type=int, help="default 10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: cuda, then mps, then cpu")
    parser.add_argument("--lr", type=float, default=2e-3, help="(b) only")
    parser.add_argument("--batch-size", type=int, default=128, help="(b) only")
    parser.add_argument("--no-bn", action="store_true", help="(b) without BatchNorm")
    args = parser.parse_args(argv)
    args.device = args.device or str(repro.pick_device())
    ok = True
    if args.only in (None, "mnist"):
        h = seeds_mnist(args)
    if args.only in (None, "fashion"):
        h = lenet_fashion(args)
        train_s = sum(60_000 / e.images_per_s for e in h.epochs)
        ok = h.final.eval_accuracy >= 0.89 and train_s < 90
        print(f"target (>= 0.89 in 10 epochs, < 90 s training): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
