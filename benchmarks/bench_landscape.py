"""Time the loss-landscape grid on a ViT-B/16-sized H-JEPA or I-JEPA network (random weights), batch 8, 224 px.

Usage: .venv/bin/python benchmarks/bench_landscape.py [--layout hjepa|ijepa] [--grid 21] [--points 6]
       [--threads N] [--device cpu|cuda]

Times the pieces the report runs (models/loss.py, analysis/dynamics): the target side of the loss (one
target-encoder pass), the loss at one grid point (context encoder + predictor + loss under inference_mode,
parameters moved in place), prints the FLOP estimate the report sizes its grid with (models/flops.py) and the
speed it implies, and extrapolates to the full grid (grid^2 points); --points sets how many grid points are
actually timed
(--points 0 runs the whole grid). Networks: H-JEPA configs/default.yaml (ViT-B/16, predictor depth 6, 12 heads,
3 levels); I-JEPA ViT-B/16 with its default predictor (depth 12, width 384).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hjepa_report.analysis.dynamics.batch import training_masks
from hjepa_report.analysis.dynamics.landscape import loss_surface, trainable_parameters
from hjepa_report.models.flops import loss_flops
from hjepa_report.models.loss import loss_settings, loss_targets, network_loss

VIT_B16 = dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12)


def build(layout: str):
    """Return (network, config) of a ViT-B/16-sized model with random weights."""
    if layout == "hjepa":
        from hjepa_report.models.hjepa import HJepaNetwork

        net = HJepaNetwork(VIT_B16, predictor_depth=6, predictor_heads=12, predictor_mlp_ratio=4.0, num_levels=3)
        config = {
            "masking": {"num_masks": 4, "mask_scale": [0.15, 0.2], "aspect_ratio": [0.75, 1.5]},
            "data": {"image_size": 224},
            "model": {"num_hierarchies": 3},
            "loss": {"type": "smoothl1", "hierarchy_weights": [1.0, 0.5, 0.25]},
        }
    else:
        from hjepa_report.models.ijepa import IJepaNetwork

        kwargs = dict(VIT_B16, mlp_ratio=4.0, qkv_bias=True)
        net = IJepaNetwork(kwargs, predictor_embed_dim=384, predictor_depth=12)
        config = {"data": {"crop_size": 224}, "mask": {"patch_size": 16}}
    return net.eval(), config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="hjepa", choices=["hjepa", "ijepa"])
    parser.add_argument("--grid", type=int, default=21)
    parser.add_argument("--points", type=int, default=6, help="grid points actually timed (0 = the whole grid)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net, config = build(args.layout)
    net = net.to(args.device)
    images = torch.randn(args.batch, 3, 224, 224, device=args.device)
    masks = training_masks(config, args.layout, args.batch, seed=0, grid=(14, 14), patch_size=16)
    masks = (
        masks.to(args.device)
        if args.layout == "hjepa"
        else tuple([m.to(args.device) for m in group] for group in masks)
    )
    settings = loss_settings(config, args.layout, getattr(net, "num_levels", 1))

    t0 = time.perf_counter()
    targets = loss_targets(net, images, masks, settings)
    t_target = time.perf_counter() - t0

    def loss_fn():
        with torch.inference_mode():
            return float(network_loss(net, images, masks, settings, targets).total)

    params = trainable_parameters(net)
    n = args.grid if args.points == 0 else max(1, int(np.ceil(np.sqrt(args.points))))
    surface = loss_surface(loss_fn, params, (1, 2), np.linspace(-1, 1, n))
    per_point = surface.seconds / (n * n + 1)  # + 1: the origin
    full = t_target + per_point * (args.grid**2 + 1)
    print(
        f"layout {args.layout}, device {args.device}, batch {args.batch}, torch threads {torch.get_num_threads()}, "
        f"{sum(p.numel() for p in params.values()) / 1e6:.1f} M trainable parameters"
    )
    flops = loss_flops(net, masks, settings.target_norm)
    print(f"target cache: {t_target:.2f} s; one grid point: {per_point:.2f} s (timed {n * n + 1} points)")
    print(
        f"estimated FLOPs (models/flops.py): {flops.context / 1e9:.0f} GFLOP per grid point, "
        f"{flops.target / 1e9:.0f} GFLOP for the target side; {flops.context / per_point / 1e9:.0f} GFLOP/s here"
    )
    print(
        f"{args.grid}x{args.grid} grid: {full:.0f} s = {full / 60:.1f} min (estimated from the timed points)"
        if args.points
        else f"{args.grid}x{args.grid} grid: {full:.0f} s measured"
    )


if __name__ == "__main__":
    main()
