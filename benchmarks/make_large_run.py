"""Write a real-size H-JEPA run directory (random weights) to benchmark the report on: issue 13.

Usage: .venv/bin/python benchmarks/make_large_run.py OUT_DIR [--model vit_base|vit_large] [--epochs 3]
       [--images 32] [--scalars 1000000] [--seed 0]

The layout is the public H-JEPA code's (as hjepa_report/sample/write.py documents it):
- checkpoints/checkpoint_epoch_NNNN.pth with epoch, model_state_dict (context / target encoders, predictor,
  hierarchy projections: the keys of hjepa_report.models.hjepa.HJepaNetwork, which the loader reads),
  optimizer_state_dict (AdamW with exp_avg / exp_avg_sq / step for every trainable parameter, as a real run
  keeps them: about half of a ViT-B/16 checkpoint's 1.9 GB), scheduler_state_dict, metrics with numpy float64
  values, best_metric, global_step; checkpoint_latest.pth is a byte copy of the last one;
- logs/tensorboard/events.out.tfevents.*: --scalars points over 20 tags, one Event per scalar as
  SummaryWriter.add_scalar writes them;
- config.yaml with H-JEPA's configs/default.yaml values (ViT-B/16 at 224 px, predictor depth 6, 12 heads,
  3 hierarchy levels); images/<class>/*.png, procedurally drawn, --images in 4 classes.
Cost does not depend on training, so the weights are seeded random with a small drift between epochs (the
target encoder follows the context encoder as an EMA would). One checkpoint is built and written at a time.
The output is generated data: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

# width, depth, heads, timm name (H-JEPA model.encoder_type); "tiny" is for the tests only.
MODELS = {
    "vit_base": (768, 12, 12, "vit_base_patch16_224"),
    "vit_large": (1024, 24, 16, "vit_large_patch16_224"),
    "tiny": (64, 2, 4, "vit_tiny_test_patch16_64"),
}
CLASSES = ("discs", "stripes", "checker", "rings")
TAGS = (
    ["train/loss", "train/loss_h0", "train/loss_h1", "train/loss_h2", "train/lr", "train/ema_momentum"]
    + [f"train/{side}_{stat}" for side in ("context", "target") for stat in ("std", "norm", "eff_rank")]
    + ["train/grad_norm", "train/weight_decay", "train/mask_ratio", "train/throughput"]
    + ["val/loss", "val/loss_h0", "val/loss_h1", "val/loss_h2"]
)


def hjepa_config(model: str, epochs: int, seed: int) -> dict:
    """Return H-JEPA's configs/default.yaml values for `model` (ViT-B/16 at 224 px by default)."""
    width, _, heads, name = MODELS[model]
    size = 64 if model == "tiny" else 224
    model_section = {
        "encoder_type": name,
        "embed_dim": width,
        "num_hierarchies": 3,
        "predictor": {"depth": 2 if model == "tiny" else 6, "num_heads": heads, "mlp_ratio": 4.0},
        "ema": {"momentum": 0.996, "momentum_end": 1.0, "momentum_warmup_epochs": 30},
        "rope": {"use_rope": False, "theta": 10000.0},
        "use_flash_attention": True,
        "fpn": {"use_fpn": False, "feature_dim": None, "fusion_method": "add"},
    }
    if model == "tiny":
        model_section["num_heads"] = heads  # a made-up name tells the loader nothing
    return {
        "experiment": {"name": f"hjepa_{model}_bench", "seed": seed, "output_dir": "results"},
        "model": model_section,
        "data": {
            "dataset": "imagenet",
            "data_path": "/path/to/dataset",
            "image_size": size,
            "batch_size": 128,
            "num_workers": 8,
            "pin_memory": True,
            "augmentation": {"color_jitter": 0.4, "horizontal_flip": True, "random_crop": True},
        },
        "masking": {
            "num_masks": 4,
            "mask_scale": [0.15, 0.2],
            "aspect_ratio": [0.75, 1.5],
            "num_context_masks": 1,
            "context_scale": [0.85, 1.0],
        },
        "training": {
            "epochs": max(epochs, 300),
            "warmup_epochs": 40,
            "lr": 1.5e-4,
            "min_lr": 1.0e-6,
            "weight_decay": 0.05,
            "optimizer": "adamw",
            "betas": [0.9, 0.95],
            "lr_schedule": "cosine",
            "clip_grad": 3.0,
            "use_amp": True,
            "accumulation_steps": 1,
        },
        "loss": {"type": "smoothl1", "hierarchy_weights": [1.0, 0.5, 0.25], "normalize_embeddings": False},
        "checkpoint": {"save_frequency": 1, "keep_best_n": 3, "checkpoint_dir": "checkpoints", "metric": "val_loss"},
        "logging": {"experiment_name": f"hjepa_{model}_bench", "log_dir": "logs", "log_frequency": 1},
        "seed": seed,
        "device": "cuda",
    }


def build_network(model: str, seed: int):
    """Return a seeded random HJepaNetwork of `model`'s size (the project's own modules: the loader's keys)."""
    import torch

    from hjepa_report.models.hjepa import HJepaNetwork

    width, depth, heads, _ = MODELS[model]
    torch.manual_seed(seed)
    encoder = dict(
        img_size=64 if model == "tiny" else 224, patch_size=16, embed_dim=width, depth=depth, num_heads=heads
    )
    return HJepaNetwork(encoder, predictor_depth=2 if model == "tiny" else 6, predictor_heads=heads, num_levels=3)


def drift(network, generator, scale: float = 0.01) -> None:
    """Move the context side by a small seeded step, and the target encoder towards it as an EMA (0.996)."""
    import torch

    with torch.no_grad():
        for name, p in network.named_parameters():
            if not name.startswith("target_encoder."):
                p.add_(torch.randn(p.shape, generator=generator) * (scale * (float(p.std()) if p.numel() > 1 else 1)))
        for t, c in zip(network.target_encoder.parameters(), network.context_encoder.parameters(), strict=True):
            t.lerp_(c, 0.004)


def optimizer_state(network, step: int, generator) -> dict:
    """AdamW's state_dict for the trainable parameters: exp_avg, exp_avg_sq and step per parameter."""
    import torch

    trainable = [p for n, p in network.named_parameters() if not n.startswith("target_encoder.")]
    groups = torch.optim.AdamW(trainable, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05).state_dict()
    state = {}
    for i, p in enumerate(trainable):
        state[i] = {
            "step": torch.tensor(float(step)),
            "exp_avg": torch.randn(p.shape, generator=generator) * 1e-4,
            "exp_avg_sq": torch.rand(p.shape, generator=generator) * 1e-8,
        }
    return {"state": state, "param_groups": groups["param_groups"]}


def write_checkpoints(root: Path, model: str, epochs: int, steps_per_epoch: int, seed: int) -> list[Path]:
    """Write checkpoint_epoch_NNNN.pth for each epoch (one in memory at a time) and a byte-copied latest."""
    import torch

    folder = root / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    network = build_network(model, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    paths, best = [], math.inf
    for epoch in range(epochs):
        drift(network, generator)
        step = (epoch + 1) * steps_per_epoch
        val_loss = np.float64(0.5 * 0.9**epoch)  # H-JEPA's _validate_epoch returns a numpy float64
        best = min(best, val_loss)
        state = {
            "epoch": epoch,
            "model_state_dict": network.state_dict(),
            "optimizer_state_dict": optimizer_state(network, step, generator),
            "scheduler_state_dict": {"lr": 1.5e-4 * (epoch + 1) / 40, "ema_momentum": 0.996},
            "metrics": {"epoch": np.float64(epoch), "train_loss": np.float64(val_loss * 1.1), "val_loss": val_loss},
            "best_metric": np.float64(best),
            "global_step": step,
        }
        path = folder / f"checkpoint_epoch_{epoch:04d}.pth"
        torch.save(state, path)
        del state
        paths.append(path)
        print(f"  {path.name}: {path.stat().st_size / 1e9:.2f} GB", flush=True)
    shutil.copy(paths[-1], folder / "checkpoint_latest.pth")
    return paths


def tag_values(tag: str, steps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a plausible noisy curve for `tag` at `steps` (decaying losses, warm-up lr, rising EMA)."""
    t = steps / max(1, steps[-1])
    if tag.endswith("/lr"):
        return 1.5e-4 * np.minimum(1.0, 4 * t) * (0.5 + 0.5 * np.cos(np.pi * t))
    if tag.endswith("ema_momentum"):
        return 0.996 + 0.004 * t
    level = int(tag[-1]) if tag[-1].isdigit() else 0
    base = (0.6 + 0.2 * level) * np.exp(-2 * t) + 0.1
    return base * (1 + 0.05 * rng.standard_normal(len(steps)))


def write_events(root: Path, n_scalars: int, seed: int) -> tuple[Path, int]:
    """Write n_scalars points over TAGS, one Event per scalar; return (file, steps per tag).

    Records are framed here (length, masked CRC-32C of the length, payload, masked CRC-32C of the payload)
    with tensorboard's own protobuf class and masked_crc32c, because torch's SummaryWriter needs ~90 s for a
    million add_scalar calls (benchmarks/bench_tensorboard.py does the same).
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    folder = root / "logs" / "tensorboard"
    folder.mkdir(parents=True, exist_ok=True)
    steps_per_tag = max(1, n_scalars // len(TAGS))
    rng = np.random.default_rng(seed)
    steps = np.arange(1, steps_per_tag + 1)
    values = {tag: tag_values(tag, steps, rng).tolist() for tag in TAGS}
    path = folder / f"events.out.tfevents.{1_700_000_000 + seed}.bench.0.0"
    length_crc: dict[bytes, bytes] = {}

    def record(event) -> bytes:
        data = event.SerializeToString()
        length = struct.pack("<Q", len(data))
        if length not in length_crc:
            length_crc[length] = struct.pack("<I", masked_crc32c(length))
        return length + length_crc[length] + data + struct.pack("<I", masked_crc32c(data))

    with open(path, "wb") as fh:
        fh.write(record(Event(wall_time=1.7e9, file_version="brain.Event:2")))
        for i, step in enumerate(steps.tolist()):
            for tag in TAGS:
                event = Event(wall_time=1.7e9 + step * 0.5, step=step)
                event.summary.value.add(tag=tag, simple_value=values[tag][i])
                fh.write(record(event))
    return path, steps_per_tag


def draw_image(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one uint8 [size, size, 3] image of class `label` (see CLASSES), seeded."""
    y, x = np.mgrid[0:size, 0:size] / size
    cx, cy = rng.uniform(0.3, 0.7, 2)
    r = np.hypot(x - cx, y - cy)
    freq = rng.uniform(4, 10)
    if label == 0:
        mask = r < rng.uniform(0.15, 0.35)
    elif label == 1:
        angle = rng.uniform(0, np.pi)
        mask = np.sin(freq * np.pi * (x * np.cos(angle) + y * np.sin(angle))) > 0
    elif label == 2:
        mask = (np.floor(x * freq) + np.floor(y * freq)) % 2 == 0
    else:
        mask = np.sin(freq * 2 * np.pi * r) > 0
    fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    image = np.where(mask[..., None], fg, bg).astype(np.float64)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_images(root: Path, n_images: int, size: int, seed: int) -> None:
    """Write n_images images round-robin over CLASSES as images/<class>/<class>_NNNN.png."""
    rng = np.random.default_rng([seed, 2])
    for i in range(n_images):
        label, n = i % len(CLASSES), i // len(CLASSES)
        folder = root / "images" / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(draw_image(label, size, rng)).save(folder / f"{CLASSES[label]}_{n:04d}.png")


def make_large_run(out_dir: Path, model: str, epochs: int, n_images: int, n_scalars: int, seed: int) -> Path:
    """Write the whole run directory into out_dir and return it."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    events, steps_per_tag = write_events(root, n_scalars, seed)
    print(f"  {events.name}: {steps_per_tag * len(TAGS):,} scalars, {events.stat().st_size / 1e6:.1f} MB", flush=True)
    steps_per_epoch = max(1, steps_per_tag // max(1, epochs))
    config = hjepa_config(model, epochs, seed)
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    write_images(root, n_images, config["data"]["image_size"], seed)
    write_checkpoints(root, model, epochs, steps_per_epoch, seed)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", default="vit_base", choices=sorted(MODELS), help="'tiny' is for the tests")
    parser.add_argument("--epochs", type=int, default=3, help="epoch checkpoints")
    parser.add_argument("--images", type=int, default=32, help="labelled images, round-robin over 4 classes")
    parser.add_argument("--scalars", type=int, default=1_000_000, help="TensorBoard points over 20 tags")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make_large_run(args.out_dir, args.model, args.epochs, args.images, args.scalars, args.seed)
    print(args.out_dir)


if __name__ == "__main__":
    main()
