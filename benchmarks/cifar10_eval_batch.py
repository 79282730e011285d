"""How long chapter 5's network takes to evaluate the 10,000 test images, by evaluation batch size.

``utils.cifar_train.EVAL_BATCH`` is one of the fastest sizes this measured on the 2-core CPU, where
batches of 1,000 were much slower, possibly because their first activations (1,000 x 24 x 31 x 31
values, 46 MB in bf16) exceed the 32 MiB cache. The images are random and the network untrained (the
time depends on neither); each size is timed ``--repeats`` times, round robin, and the median is
printed.

Usage: python benchmarks/cifar10_eval_batch.py [--widths 16 64 128] [--precision bf16] [--repeats 5] [--images N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.augment import DeviceLoader
from utils.cifar_train import EVAL_BATCH, precision_dtype
from utils.models import FastResNet
from utils.reproducibility import describe_device, get_device
from utils.training import evaluate

SIZES = (1000, 500, EVAL_BATCH, 128)
TEST_IMAGES = 10_000


def main(argv: list[str] | None = None) -> dict[int, float]:
    """Print and return the median seconds per evaluation of the test images, by batch size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64, 128], help="the network's widths")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16", help="autocast precision")
    parser.add_argument("--repeats", type=int, default=5, help="timings of each batch size")
    parser.add_argument("--images", type=int, default=TEST_IMAGES, help="images per evaluation")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.images < 1:
        parser.error(f"--repeats and --images must be positive, got {args.repeats} and {args.images}")
    device = get_device()
    dtype = precision_dtype(device, args.precision)
    torch.manual_seed(0)
    model = FastResNet(tuple(args.widths)).to(device, memory_format=torch.channels_last)
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (args.images,))
    sizes = sorted(set(SIZES), reverse=True)
    loaders = {b: DeviceLoader(images, labels, b, train=False, device=device, channels_last=True) for b in sizes}
    times: dict[int, list[float]] = {b: [] for b in sizes}
    evaluate(model, loaders[sizes[-1]], F.cross_entropy, accuracy=True, autocast_dtype=dtype)  # warm-up
    for _ in range(args.repeats):
        for b, loader in loaders.items():
            start = time.perf_counter()
            evaluate(model, loader, F.cross_entropy, accuracy=True, autocast_dtype=dtype)  # .item() waits
            times[b].append(time.perf_counter() - start)
    command = " ".join(["python benchmarks/cifar10_eval_batch.py", *(sys.argv[1:] if argv is None else argv)])
    print(command)
    print(f"{describe_device(device)}; widths {tuple(args.widths)}, {args.precision}, {args.images:,} images")
    medians = {b: statistics.median(t) for b, t in times.items()}
    for b, seconds in medians.items():
        mark = "  <- EVAL_BATCH" if b == EVAL_BATCH else ""
        print(f"  batch {b:5d}: {seconds:.2f} s (median of {args.repeats}){mark}")
    return medians


if __name__ == "__main__":
    main()
