"""Time the class probes' extra cost: the target encoder on the images beyond the sample images, per checkpoint.

Usage: .venv/bin/python benchmarks/bench_probe.py [--layout hjepa|ijepa] [--images 64] [--threads 2]
       [--device cpu|cuda]

The representations section encodes --probe-images images (default 256; the first --max-images = 64 are the
sample images, encoded anyway) with the target encoder of every evaluated checkpoint (at most 8), in batches of
16 under inference_mode, keeping only their pooled features. This times that pass on a ViT-B/16-sized network
with random weights (benchmarks/bench_landscape.build) and extrapolates to the default setting.
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_landscape import build  # noqa: E402  (run from the benchmarks folder or with it on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="hjepa", choices=["hjepa", "ijepa"])
    parser.add_argument("--images", type=int, default=64, help="images actually timed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net, _ = build(args.layout)
    encoder = net.target_encoder.to(args.device)
    images = torch.randn(args.images, 3, 224, 224, device=args.device)
    with torch.inference_mode():
        encoder(images[:2])  # warm-up
        start = time.perf_counter()
        for i in range(0, args.images, 16):
            encoder(images[i : i + 16]).float().mean(dim=1).cpu()
        per_image = (time.perf_counter() - start) / args.images
    extra = (256 - 64) * 8 * per_image
    print(
        f"layout {args.layout}, device {args.device}, torch threads {torch.get_num_threads()}: "
        f"{per_image:.3f} s per image through the target encoder (timed {args.images})"
    )
    print(
        f"default --probe-images 256 with 64 sample images and 8 checkpoints: 192 x 8 extra images = "
        f"{extra:.0f} s = {extra / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
