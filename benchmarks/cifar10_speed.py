"""CIFAR-10 speed: this book's recipe against the original tutorial's, in one run on one device.

Measures
  1. training throughput (images/s) of this recipe (FastResNet at 32 px, the preset's batch size)
     and of the original tutorial's recipe (its ResNet at 96 px, batch 64, plain SGD, fp32);
  2. this recipe's wall-clock training time to reach the original's 78 % test accuracy (a real
     training run on CIFAR-10, evaluated after every epoch; evaluation time excluded);
and prints both with their ratio. The original's time to 78 % is *estimated* as 20 epochs (its log
reached 78 % at the end of its 20 epochs) times its measured epoch time.

Usage: python benchmarks/cifar10_speed.py [--preset cpu] [--data PATH] [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.cifar10 import load_cifar10
from utils.cifar_train import cifar_config, train_cifar10
from utils.models import FastResNet, TutorialResNet
from utils.presets import choose_preset
from utils.reproducibility import describe_device, get_device

ORIGINAL_EPOCHS_TO_78 = 20
TARGET = 0.78


def throughput(model, batch_size, image_size, device, optimizer, steps, warmup=2, channels_last=False):
    """Images per second of forward + backward + step on random data of the given shape."""
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=device)
    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch_size * steps / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=None, help="smoke, cpu or gpu (default: automatic)")
    parser.add_argument("--data", default=None, help="local CIFAR-10 copy (default: $BOOK_CIFAR10 or download)")
    parser.add_argument("--epochs", type=int, default=None, help="schedule length of the time-to-78%% run")
    parser.add_argument("--original-steps", type=int, default=8, help="timed batches of the original recipe")
    args = parser.parse_args()

    preset = choose_preset(args.preset)
    device = get_device()
    epochs = args.epochs or {"smoke": 1, "cpu": 3, "gpu": 2}[preset]
    config = cifar_config(preset, epochs=epochs)
    print(f"device: {describe_device(device)};  preset: {preset};  torch {torch.__version__}")

    torch.manual_seed(0)
    ours = FastResNet(config.widths, depth=config.depth).to(device, memory_format=torch.channels_last)
    ours_opt = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    ours_ips = throughput(ours, config.batch_size, 32, device, ours_opt, steps=10, channels_last=True)
    original = TutorialResNet().to(device)
    original_opt = torch.optim.SGD(original.parameters(), lr=0.01, weight_decay=1e-4)
    original_ips = throughput(original, 64, 96, device, original_opt, steps=args.original_steps)
    ours_name = f"this recipe (widths {config.widths}, 32 px, batch {config.batch_size})"
    print(f"throughput, {ours_name}: {ours_ips:8.0f} images/s")
    print(f"throughput, original recipe (its ResNet, 96 px, batch 64): {original_ips:8.1f} images/s")
    print(f"throughput ratio: {ours_ips / original_ips:.0f}x  (compute only: random tensors, no data pipeline, "
          "which favours the original, whose pipeline resized every image with PIL)")

    data = load_cifar10(args.data)
    print(f"time-to-{TARGET:.0%} run: this recipe with a {epochs}-epoch schedule on {data.source}")
    _, history = train_cifar10(data, config, device=device, label="  ")
    elapsed, reached = 0.0, None
    for record in history.records:
        elapsed += record["seconds"]
        accuracy = record.get("final_tta_accuracy", record["test_accuracy"])
        if reached is None and accuracy >= TARGET:
            reached = elapsed
    final = history.records[-1]["final_tta_accuracy"]
    original_estimate = ORIGINAL_EPOCHS_TO_78 * 50_000 / original_ips
    print(f"original recipe, time to 78%: {original_estimate:9.0f} s  "
          f"(estimated: {ORIGINAL_EPOCHS_TO_78} epochs x 50,000 images at its measured throughput)")
    if reached is None:
        print(f"this recipe did not reach {TARGET:.0%} (final test accuracy {final:.3f}); try more --epochs")
        return 1
    print(f"this recipe, time to 78%:     {reached:9.0f} s  (measured; final test accuracy {final:.3f})")
    print(f"speed-up to 78%: {original_estimate / reached:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
