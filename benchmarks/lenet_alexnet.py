"""Benchmark, not a test: LeNet (1998 and modern) against a small AlexNet on Fashion-MNIST.

Trains each network with the recipe of the chapter "LeNet and AlexNet" (Adam,
learning rate 0.001, batches of 128, seed 0, no augmentation) and prints, per
network, its parameters and MACs (from helpers.summary), its test accuracy,
its training throughput and wall time, and the machine it ran on (processor,
cores, torch threads, load average before and after, versions, device).

    .venv/bin/python benchmarks/lenet_alexnet.py                 # the chapter: 5 epochs, 60,000 images
    .venv/bin/python benchmarks/lenet_alexnet.py --epochs 10     # d2l's number of epochs
    .venv/bin/python benchmarks/lenet_alexnet.py --epochs 1 --train 6000 --test 2000
    .venv/bin/python benchmarks/lenet_alexnet.py --models LeNet --batch-norm --json out.json
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.lenet_alexnet   # see the note below

It always trains (helpers.train.fit, not fit_or_load), so the times are
measured now. Throughput is training images per second with the forward,
backward and optimizer step, averaged over the epochs after the first (the
first pays for warm-up) when there are several. On a shared machine, compare
numbers only from runs whose load averages were similar. When other processes
keep the cores busy, torch's two OpenMP threads can slow each other down many
times over; one thread (--threads 1 or OMP_NUM_THREADS=1) is then much faster.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helpers import data, models, repro, summary, train  # noqa: E402

NETWORKS = {
    "LeNet-1998": lambda: models.LeNet1998(),                  # scaled tanh, trainable subsampling
    "LeNet": lambda: models.LeNet(),                           # ReLU, max pooling
    "AlexNetSmall": lambda: models.AlexNetSmall(),             # AlexNet's design at 1/8 width
}
BATCH_NORM = {"LeNet-1998 + BN": lambda: models.LeNet1998(batch_norm=True),
              "LeNet-1998 sigmoid ablation": lambda: models.LeNet1998(activation="sigmoid")}

# Dive into Deep Learning's numbers on the same data (10 epochs, on a GPU): a reference, not ours.
D2L = {"LeNet (sigmoid, avg pool)": 0.789, "AlexNet at 224 px": 0.882}  # quoted from d2l


def cpu_name() -> str:
    """The processor's model name (Linux /proc/cpuinfo), or what platform knows."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def machine(device: torch.device) -> dict:
    """Where the benchmark runs: enough to judge whether two runs are comparable."""
    info = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run(name: str, build, fashion: data.Dataset, epochs: int, device: torch.device) -> dict:
    """Train one network from seed 0 and return what was measured."""
    torch.manual_seed(0)
    model = build()
    table = summary.summarize(model, fashion.train.image_shape)
    start = time.perf_counter()
    history = train.fit(model, fashion.train, fashion.test, epochs=epochs, optimizer="adam",
                        lr=1e-3, batch_size=128, seed=0, device=device, progress=False)
    wall = time.perf_counter() - start
    speeds = history.column("images_per_s")
    steady = speeds[1:] or speeds
    return {"model": name, "parameters": table.total_params, "macs": table.total_macs,
            "test_accuracy": history.final.eval_accuracy,
            "best_test_accuracy": max(history.column("eval_accuracy")),
            "images_per_s": sum(steady) / len(steady), "train_s": history.train_seconds,
            "wall_s": wall,
            "epochs": history.to_dict()["epochs"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--test", type=int, default=None, help="test images (default: all)")
    parser.add_argument("--models", nargs="+", choices=[*NETWORKS, *BATCH_NORM],
                        default=list(NETWORKS))
    parser.add_argument("--batch-norm", action="store_true",
                        help="add LeNet-1998 + BN and the sigmoid ablation of LeNet-1998")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write results here")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else repro.pick_device()
    names = list(dict.fromkeys(args.models + (list(BATCH_NORM) if args.batch_norm else [])))
    builds = {**NETWORKS, **BATCH_NORM}

    fashion = data.load_fashion_mnist().take(args.train, args.test)
    info = machine(device)
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['torch_threads']} torch threads, "
          f"device {info['device']}{', ' + info['gpu'] if 'gpu' in info else ''}")
    print(f"         {info['platform']}, Python {info['python']}, torch {info['torch']}")
    print(f"data:    {fashion.source}; using {len(fashion.train):,} training and "
          f"{len(fashion.test):,} test images, {args.epochs} epochs, Adam lr 0.001, batch 128")
    before = load()
    results = []
    for name in names:
        r = run(name, builds[name], fashion, args.epochs, device)
        results.append(r)
        print(f"  {name:27s} test acc {r['test_accuracy']:.4f}  {r['images_per_s']:8,.0f} images/s  "
              f"{r['train_s']:6.1f} s training, {r['wall_s']:6.1f} s with evaluation", flush=True)
    after = load()

    print()
    print(f"{'model':27s} {'parameters':>10s} {'MACs':>11s} {'test acc':>8s} {'best':>6s} "
          f"{'images/s':>9s} {'train s':>7s} {'wall s':>7s}")
    for r in results:
        print(f"{r['model']:27s} {r['parameters']:>10,} {r['macs']:>11,} {r['test_accuracy']:>8.4f} "
              f"{r['best_test_accuracy']:>6.4f} {r['images_per_s']:>9,.0f} {r['train_s']:>7.1f} "
              f"{r['wall_s']:>7.1f}")
    print("reference (d2l, 10 epochs on a GPU): "
          + ", ".join(f"{k} {v:.3f}" for k, v in D2L.items()))
    fmt = lambda la: "n/a" if la is None else " ".join(f"{x:.2f}" for x in la)  # noqa: E731
    print(f"load average (1, 5, 15 min): before {fmt(before)}, after {fmt(after)}")

    if args.json:
        args.json.write_text(json.dumps({"machine": info, "load_before": before, "load_after": after,
                                         "epochs": args.epochs, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
