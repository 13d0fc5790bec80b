"""The sample run's README.md: what it is, how it was made, what is in it and how well it learned.

Written by the trainer at the end of a run, from the run's own numbers (nothing typed in by hand), so the
committed README states exactly what `make_sample_run` measured when it produced the committed files.
"""

from __future__ import annotations

from pathlib import Path

from .data import CLASS_NAMES, TEXTURED
from .recipe import SAMPLE_ONLY_KEYS
from .write import FOREGROUND_FILE


def write_readme(out_dir: Path, summary: dict) -> Path:
    """Write README.md into the run directory and return its path."""
    out_dir = Path(out_dir)
    parts = [
        _intro(summary),
        _data(summary),
        _model(summary),
        _files(out_dir, summary),
        _results(summary),
        _differences(summary["recipe"]),
    ]
    path = out_dir / "README.md"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def _intro(s: dict) -> str:
    r = s["recipe"]
    k = s["fresh_knn"]
    return (
        f"# {r.name}: a small H-JEPA trained on procedural shapes\n\n"
        f"Made by `hjepa-report make-sample OUT_DIR --seed {r.seed} --epochs {r.epochs}` "
        f"(`hjepa_report.sample.make_sample_run`), on CPU with {s['threads']} threads: "
        f"{s['train_seconds']:.0f} s of training wall time ({s['train_cpu_seconds']:.0f} s CPU time), "
        f"{s['total_seconds']:.0f} s in all including data generation and evaluation. The files follow the "
        "layout of the public H-JEPA training code (github.com/jonwiggins/H-JEPA): checkpoints/, "
        "logs/tensorboard/, config.yaml, plus images/.\n\n"
        f"**Learned or not:** k-NN accuracy (k = {r.knn_k}, cosine, mean-pooled target-encoder patch tokens) "
        f"on freshly generated images: **{k['trained']:.1f} %** after training, {k['random_init']:.1f} % for the "
        f"same network at its random initialisation, chance {k['chance']:.1f} %. Reproduce from the committed "
        "checkpoints with `.venv/bin/python benchmarks/eval_sample_knn.py sample_runs/" + r.name + "`."
    )


_PALETTE_WORDS = {
    "colour": "a random RGB colour",
    "grey": "a random grey level at least 80 (of 255) lighter or darker than the background, no hue",
}
_BACKGROUND_WORDS = {"colour": "near-grey (grey level plus a small tint)", "grey": "grey (no tint)"}


def _data(s: dict) -> str:
    r = s["recipe"]
    return (
        "## Data\n\n"
        f"`hjepa_report.sample.data.make_shape_set`: {len(CLASS_NAMES)} classes ({', '.join(CLASS_NAMES)}), "
        f"64x64 RGB, one object per image with {_PALETTE_WORDS[r.palette]}, a random position, size "
        f"(half-extent {r.object_radius[0]:.2f}-"
        f"{r.object_radius[1]:.2f} of the image side) and rotation on a {_BACKGROUND_WORDS[r.palette]} "
        f"{' / '.join(r.backgrounds)} background (recipe palette = '{r.palette}'). "
        "Textured classes (the object's colour and its complement): "
        f"{', '.join(f'{k} ({v} silhouette)' for k, v in TEXTURED.items())}; the others are flat-coloured. "
        f"Train: {r.train_per_class} images per class, val: {r.val_per_class} per class, "
        f"each from its own seed derived from the run seed {r.seed}.\n\n"
        f"images/<class>/ holds the first {r.images_per_class} val images of each class. Their foreground "
        f"masks (bool 64x64, True = object pixel) are in `{FOREGROUND_FILE}`, keyed by the image path "
        "relative to this folder (`numpy.load(...)['images/disc/disc_0000.png']`); they live outside images/ "
        "so that nothing mistakes a mask for a sample image."
    )


def _model(s: dict) -> str:
    r, p = s["recipe"], s["parameters"]
    counts = ", ".join(f"{k} {v:,}" for k, v in p.items() if k != "total")
    return (
        "## Model and recipe\n\n"
        f"H-JEPA (`hjepa_report.models.hjepa.HJepaNetwork`, the original state-dict keys): ViT encoders "
        f"(`{r.encoder_type}`: patch {r.patch_size}, {r.image_size // r.patch_size}x"
        f"{r.image_size // r.patch_size} grid, CLS token, learned position table, width {r.embed_dim}, depth "
        f"{r.depth}, {r.num_heads} heads, MLP ratio {r.mlp_ratio}), predictor depth {r.predictor_depth} with "
        f"{r.predictor_heads} heads and MLP ratio {r.predictor_mlp_ratio}, {r.num_levels} hierarchy levels "
        f"weighted {list(r.hierarchy_weights)}. Parameters: {p['total']:,} ({counts}); one ViT encoder is "
        f"{p['context_encoder']:,}.\n\n"
        f"Training: {r.epochs} epochs of {r.train_per_class * len(CLASS_NAMES) // r.batch_size} steps, batch "
        f"{r.batch_size}; AdamW (lr {r.lr}, betas {list(r.betas)}, weight decay {r.weight_decay}), linear "
        f"warm-up over {r.warmup_epochs} epoch(s) then cosine to {r.min_lr}; gradient clipping {r.clip_grad}; "
        f"EMA target encoder, momentum {r.ema_start} rising linearly to {r.ema_end}; multi-block masking "
        f"(hidden = union of {r.num_masks} blocks of scale {list(r.mask_scale)}); H-JEPA's hierarchical MSE "
        f"loss; random resized crop (area {list(r.crop_scale)}) and horizontal flip; ImageNet normalisation."
    )


def _files(out_dir: Path, s: dict) -> str:
    saved = [h["epoch"] for h in s["history"] if h["saved"]]
    size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    return (
        "## Files\n\n"
        f"- checkpoints/checkpoint_epoch_NNNN.pth for epochs {saved} (0-based, as H-JEPA names them); "
        "checkpoint_latest.pth and checkpoint_best.pth are byte copies of the last one and of the one with the "
        "lowest val loss among those saved. Keys as H-JEPA writes them: epoch, model_state_dict, "
        "optimizer_state_dict, scheduler_state_dict {lr, ema_momentum}, metrics {epoch, val_loss (numpy "
        "float64)}, best_metric, global_step. To keep the sample small, optimizer_state_dict keeps AdamW's "
        "param_groups but not its per-parameter moments ('state' is empty); weights are float32.\n"
        "- logs/tensorboard/: the H-JEPA tags (train/loss, train/loss_h0..2, train/loss_unweighted, train/lr, "
        "train/ema_momentum, train/context_std, train/target_std, train/context_norm, train/target_norm, "
        "train/context_eff_rank, train/target_eff_rank, train_epoch/*, val/loss, online_eval/knn_accuracy).\n"
        "- config.yaml: H-JEPA's schema, plus keys H-JEPA does not have: "
        f"{', '.join(SAMPLE_ONLY_KEYS)} (model.num_heads because the encoder name is not a stock timm model; "
        "sample_recipe holds the full recipe, from which benchmarks/eval_sample_knn.py rebuilds the network).\n"
        f"- Size of the run folder without this README: {size / 1e6:.1f} MB."
    )


def _results(s: dict) -> str:
    rows = "\n".join(
        f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_loss']:.4f} | {h['knn']:.1f} | "
        f"{'yes' if h['saved'] else ''} |"
        for h in s["history"]
    )
    r = s["recipe"]
    return (
        "## Training results\n\n"
        "| epoch | train_epoch/loss | val/loss | online k-NN % | checkpoint |\n|---|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Online k-NN (online_eval/knn_accuracy): val images against {r.knn_bank_per_class} un-augmented "
        f"train images per class, k = {r.knn_k}, cosine; {s['init_knn']:.1f} % before the first step. "
        f"The fresh-image numbers at the top use {r.eval_per_class} bank and {r.eval_per_class} query images "
        "per class from held-out seeds (hjepa_report/sample/knn.py)."
    )


def _differences(recipe) -> str:
    return (
        "## Where this differs from H-JEPA's own trainer\n\n"
        + (
            f"- Loss targets (recipe target_norm = '{recipe.target_norm}'): the target encoder's tokens at the "
            "hidden patches, layer-normed without parameters as I-JEPA does (src/train.py, F.layer_norm) and "
            "pooled per level like H-JEPA's levels, instead of H-JEPA's targets (the same tokens through the "
            "level's learned projection). With the learned projection on both sides, our short runs drove the "
            "loss to about 0.016 within 10 epochs: the shared projection made every level almost trivially "
            "predictable, a collapse of the targets rather than learning. The predictions are H-JEPA's own "
            "(predictor, then the level's projection and pooling).\n"
            if recipe.target_norm == "layernorm"
            else ""
        )
        + f"- EMA momentum starts at {recipe.ema_start} (H-JEPA's default is 0.996) and rises linearly to "
        f"{recipe.ema_end}: a run of a few hundred steps needs a target encoder that moves faster.\n"
        "- The lr for step s is set before step s (H-JEPA sets it after, so its first step runs at the base lr).\n"
        "- A checkpoint is written every `checkpoint.save_frequency` epochs and at the last epoch; H-JEPA also "
        "writes one at every epoch that improves val loss. checkpoint_best.pth is the best of those written.\n"
        "- Validation masks are drawn from a fixed seed, identical at every epoch, so val/loss compares like "
        "with like.\n"
        "- Validation and the k-NN numbers above feed the 64 x 64 images to the network as they are. H-JEPA's "
        "evaluation transform (and so hjepa-report, which follows it) first resizes to int(64 * 1.14) = 72 "
        "and centre-crops 64, which cuts the edges of objects near the border.\n"
        "- Determinism: same seed, same thread count and same torch build give byte-identical checkpoints; the "
        "TensorBoard file name and wall times differ between runs."
    )
