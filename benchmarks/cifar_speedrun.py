"""Benchmark, not a test: fast CIFAR-10 training on this machine (the "Training fast" recipe).

Trains `models.SpeedNet` (airbench94's shape, Jordan 2024) with the book's
fast recipe, `train.FAST`: its first layer whitened from the training images,
SGD with Nesterov momentum, a warm-up then linear decay, label smoothing,
the alternating flip and 2-pixel reflected shifts, and bfloat16 autocast.
The protocol is chapter 12's: a tenth of the training
set held out (seed 0) for validation after every epoch, the official test set
measured once at the end, with and without test-time augmentation (flips and
1-pixel shifts).

    CNN_BOOK_DATA=../shared/datasets .venv/bin/python -m benchmarks.cifar_speedrun --seeds 0 1 2
    .venv/bin/python -m benchmarks.cifar_speedrun --minutes 30   # epochs from a measured speed
    .venv/bin/python -m benchmarks.cifar_speedrun --throughput   # images/s: float32 vs bfloat16
    .venv/bin/python -m benchmarks.cifar_speedrun --steps 5 --train 2000 --eval 500   # a smoke test
    .venv/bin/python -m benchmarks.cifar_speedrun --ablate --epochs 2 --seeds 0 1 2
    .venv/bin/python -m benchmarks.cifar_speedrun --jpeg 50   # every image re-encoded at quality 50
    .venv/bin/python -m benchmarks.cifar_speedrun --all-train # all 50,000 training images

With the full training split each seed's run is saved with fit_or_load (name
"speedrun-seed<N>", or "speedrun-<E>ep-seed<N>" for --epochs E other than the
recipe's; "speedrun-jpeg<Q>-seed<N>" with --jpeg Q, "speedrun-all-seed<N>" with
--all-train), so the chapter making the same call loads it. Prints the
validation accuracy against the cumulative training time after every epoch
(evaluation not included), and the test accuracy. --ablate trains each variant
of helpers.speedrun (the recipe without one of its ideas) for --epochs instead,
loading the runs already in the store, and prints a table of their validation
accuracies (mean and spread of the seeds) and training times.
--jpeg Q measures what JPEG compression costs the recipe: it encodes every
training, validation and test image once more as JPEG at quality Q (4:2:0
chroma, like the copy; Pillow's libjpeg) and decodes it before training, and
prints how far the pixels moved. The book's copy is already JPEG (quality
about 75), so this measures the cost of compressing further, not of the copy.
--all-train trains on all 50,000 training images, as airbench94 does, instead of
the 45,000 left after the validation images; with nothing held out, the accuracy
printed after each epoch is the test set's (no choice is made on it: the epochs
are fixed).
On a GPU the same command runs unchanged (--device cuda): autocast then
computes in bfloat16 on the GPU.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import sys
import time

import numpy as np
import torch
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.cifar_resnet import setup  # noqa: E402
from benchmarks.lenet_alexnet import load  # noqa: E402
from helpers import data, models, runs, speedrun, train  # noqa: E402


def throughput(train_split: data.Split, device: torch.device, batch_size: int, steps: int) -> None:
    """Training images/s of SpeedNet in float32 and bfloat16, contiguous and channels-last."""
    x, y = next(train_split.batches(batch_size, device=device))
    for autocast in (False, True):
        for channels_last in (False, True):
            torch.manual_seed(0)
            model = models.SpeedNet().to(device)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            speed = train.training_speed(model, x, y, autocast=autocast, steps=steps)
            print(f"  {'bfloat16' if autocast else 'float32 '}  "
                  f"{'channels-last' if channels_last else 'contiguous   '}  "
                  f"{speed:7,.0f} images/s (median of {steps} steps of {batch_size})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=float, default=None,
                        help=f"epochs per run (default: the recipe's {train.FAST.epochs})")
    parser.add_argument("--minutes", type=float, default=None,
                        help="a training budget instead of --epochs: the epochs that fit in it at "
                             "the speed measured on 20 batches first")
    parser.add_argument("--steps", type=int, default=None, help="train only this many batches")
    parser.add_argument("--train", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--eval", type=int, default=None,
                        help="validation and test images, each (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    parser.add_argument("--throughput", action="store_true",
                        help="only measure training images/s in float32 and bfloat16")
    parser.add_argument("--ablate", nargs="*", default=None, metavar="VARIANT",
                        help="train these variants of helpers.speedrun (none named: all of them)")
    parser.add_argument("--jpeg", type=int, default=None, metavar="Q",
                        help="re-encode every image as JPEG at quality Q (1-95) before training")
    parser.add_argument("--all-train", action="store_true",
                        help="train on all 50,000 training images (no validation split)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if sum(x is not None for x in (args.epochs, args.minutes, args.steps)) > 1:
        parser.error("give at most one of --epochs, --minutes and --steps")
    if args.ablate is not None and (args.epochs is None or args.train is not None
                                    or args.eval is not None):
        parser.error("--ablate needs --epochs (a short budget, e.g. 2) and all the images")
    if args.eval is not None and args.eval < 1:
        parser.error(f"--eval must be at least 1, got {args.eval}")
    if args.jpeg is not None and not 1 <= args.jpeg <= 95:
        parser.error(f"--jpeg must be a quality from 1 to 95 (Pillow's range), got {args.jpeg}")
    if args.jpeg is not None and args.ablate is not None:
        parser.error("--jpeg trains the final recipe; it cannot be combined with --ablate")
    if args.all_train and args.ablate is not None:
        parser.error("--all-train trains the final recipe; it cannot be combined with --ablate")

    device, cifar, train_split, val_split, info = setup(args)
    val_split, test_split = val_split.take(args.eval), cifar.test.take(args.eval)
    if args.all_train:   # nothing held out: the accuracy after each epoch is the test set's
        train_split, val_split = cifar.train.take(args.train), test_split
        print(f"         all {len(train_split):,} training images; the test set is measured after "
              "every epoch")
    if args.eval is not None:
        print(f"         evaluated on {len(val_split):,} validation and {len(test_split):,} test images")
    if args.jpeg is not None:
        train_split = recompress(train_split, args.jpeg, "training")
        test_split = recompress(test_split, args.jpeg, "test")
        val_split = test_split if args.all_train else recompress(val_split, args.jpeg, "validation")
    full = args.train is None and args.eval is None
    recipe = train.FAST
    if args.throughput:
        throughput(train_split, device, recipe.batch_size, steps=10)
        return 0
    if args.minutes is not None:
        speed = measure_speed(train_split, device, recipe)
        recipe = recipe.replace(epochs=round(args.minutes * 60 * speed / len(train_split), 2))
        print(f"speed:   {speed:,.0f} training images/s measured, so {args.minutes:g} minutes "
              f"are {recipe.epochs:g} epochs")
    elif args.epochs is not None:
        recipe = recipe.replace(epochs=args.epochs)
    elif args.steps is not None:
        recipe = recipe.replace(epochs=args.steps / train_split.num_batches(recipe.batch_size))
    if args.ablate is not None:
        return ablate(args.ablate or list(speedrun.VARIANTS), args.seeds, recipe.epochs,
                      train_split, val_split, device)
    results = []
    for seed in args.seeds:
        results.append(one_run(seed, recipe, train_split, val_split, test_split, device,
                               save=full and args.steps is None, jpeg_quality=args.jpeg,
                               all_train=args.all_train))
    if len(results) > 1:
        mean, spread = train.mean_and_spread([r["test_accuracy_tta"] for r in results])
        print(f"\n{len(results)} seeds: test accuracy with TTA {mean:.4f} (spread {spread:.4f})")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "recipe": recipe.as_dict(),
                                         "jpeg_quality": args.jpeg, "all_train": args.all_train,
                                         "runs": results}, indent=1))
    return 0


def ablate(names: list[str], seeds: list[int], epochs: float, train_split: data.Split,
           val_split: data.Split, device: torch.device) -> int:
    """Train (or load) every variant for every seed; print validation accuracy and time."""
    rows = []
    for name in names:
        build, recipe = speedrun.variant(name, train_split)
        accs, secs = [], []
        for seed in seeds:
            _, history = runs.fit_or_load(speedrun.run_name(name, seed), build, train_split,
                                          val_split, recipe.replace(epochs=epochs, seed=seed),
                                          device=device)
            accs.append(history.final.eval_accuracy)
            secs.append(history.train_seconds)
        mean, spread = train.mean_and_spread(accs)
        rows.append((name, mean, spread, sum(secs) / len(secs)))
        print(f"{name:22s} validation accuracy {mean:.4f} (spread {spread:.4f}, "
              f"{len(seeds)} seeds)  {rows[-1][3]:6.0f} s of training", flush=True)
    return 0


def measure_speed(train_split: data.Split, device: torch.device, recipe: train.Recipe) -> float:
    """Training images/s of the recipe's network over 20 batches (after 3 to warm up)."""
    model = models.fast_network(train_split)().to(device)
    opt = train.make_optimizer(recipe, model)
    # the real schedule: at a full lr from the first step the loss turns to NaN, and arithmetic on
    # NaN runs faster than on numbers (a first version measured 725 images/s instead of 450)
    sched = train.make_schedule(recipe, opt, round(recipe.epochs * train_split.num_batches(
        recipe.batch_size)))
    batches = train_split.batches(recipe.batch_size, shuffle=True,
                                  generator=torch.Generator().manual_seed(0), device=device)
    seen, start = 0, None
    for step, (x, y) in enumerate(batches):
        if step == 3:
            seen, start = 0, time.perf_counter()
        if step == 23:
            break
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.autocast):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        seen += len(y)
    return seen / (time.perf_counter() - start)


def run_name(recipe: train.Recipe, jpeg: int | None = None, all_train: bool = False) -> str:
    """The store's name for a full run: 'speedrun-seed0' at the recipe's own epochs,
    'speedrun-32ep-seed0' at another budget, 'speedrun-jpeg50-seed0' on images re-encoded
    at JPEG quality 50, 'speedrun-all-seed0' on all 50,000 training images."""
    budget = "" if recipe.epochs == train.FAST.epochs else f"{recipe.epochs:g}ep-".replace(".", "p")
    quality = "" if jpeg is None else f"jpeg{jpeg}-"
    return f"speedrun-{'all-' if all_train else ''}{quality}{budget}seed{recipe.seed}"


def jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Each uint8 RGB image of (N, 3, H, W) encoded as JPEG at `quality` (4:2:0) and decoded."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"jpeg needs uint8 RGB images (N, 3, H, W), got {images.dtype} "
                         f"{tuple(images.shape)}")
    out = torch.empty_like(images)
    for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=2)
        out[i] = torch.from_numpy(np.array(Image.open(buffer).convert("RGB"))).permute(2, 0, 1)
    return out


def recompress(split: data.Split, quality: int, what: str) -> data.Split:
    """The split with every image re-encoded at JPEG `quality`; prints how far the pixels moved."""
    out = split.map_images(lambda images: jpeg(images, quality))
    diff = out.images.float() - split.images.float()
    psnr = 10 * torch.log10(255 ** 2 / diff.pow(2).mean())
    print(f"jpeg:    {len(split):,} {what} images re-encoded at quality {quality}: pixels moved by "
          f"{diff.abs().mean():.2f} on average (of 255), PSNR {psnr:.1f} dB against the copy")
    return out


def one_run(seed: int, recipe: train.Recipe, train_split: data.Split, val_split: data.Split,
            test_split: data.Split, device: torch.device, save: bool,
            jpeg_quality: int | None = None, all_train: bool = False) -> dict:
    recipe = recipe.replace(seed=seed)
    before = load()
    start = time.perf_counter()
    build = models.fast_network(train_split)
    if save:   # saved for the chapter, which makes the same call
        model, history = runs.fit_or_load(run_name(recipe, jpeg_quality, all_train), build, train_split, val_split,
                                          recipe, device=device, retrain=True)
    else:
        torch.manual_seed(seed)
        model = build()
        history = train.fit(model, train_split, val_split, recipe, device=device)
    wall = time.perf_counter() - start
    test = train.evaluate(model, test_split)
    tta = train.evaluate(model, test_split, flip=True, shift=1)
    print(f"\nseed {seed}: {recipe.epochs:g} epochs")
    elapsed = 0.0
    for e in history.epochs:
        elapsed += e.train_seconds
        print(f"  epoch {e.epoch:3d}  train loss {e.train_loss:.4f}  "
              f"{'test' if all_train else 'validation'} accuracy "
              f"{e.eval_accuracy:.4f}  training time so far {elapsed:7.1f} s")
    print(f"test accuracy {test.accuracy:.4f}, {tta.accuracy:.4f} with test-time augmentation, "
          f"after {history.train_seconds:.1f} s of training ({wall:.1f} s with the "
          f"{'test' if all_train else 'validation'} passes); load average before {before}, after {load()}", flush=True)
    return {"seed": seed, "test_accuracy": test.accuracy, "test_accuracy_tta": tta.accuracy,
            "train_seconds": history.train_seconds, "wall_seconds": wall,
            "history": history.to_dict()}


if __name__ == "__main__":
    sys.exit(main())
