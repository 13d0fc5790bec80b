"""Turn an AttentionResult into the section's figures, captions and metrics (no model, no torch).

Kept apart from the pass so that the captions (how to read each figure, what healthy looks like, which
method and reference) live next to the figure calls that they describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base import Section
from . import figures
from .capture import depth_layers
from .metrics import patch_distances
from .rollout import describe_rollout
from .summary import EncoderAttention

MAX_HEAD_COLUMNS = 6
THRESHOLD_KEEP = 0.6


@dataclass
class AttentionResult:
    """What compute() found: the images, the target encoder's reductions and optional extras."""

    images: list[np.ndarray]  # uint8 [H, W, 3], the model's input de-normalised
    names: list[str]
    image_seed: int
    grid: tuple[int, int]
    patch_size: int
    has_cls: bool
    depth: int
    num_heads: int
    target: EncoderAttention
    head_fusion: str = "mean"
    discard_ratio: float = 0.9
    capture_note: str = ""
    context_maps: np.ndarray | None = None  # [K, rows, cols] context encoder, head mean, block compare_layer
    hidden: np.ndarray | None = None  # [K, N] True = hidden from the context encoder
    mask_seed: int | None = None
    compare_layer: int | None = None
    foreground: dict | None = None  # see foreground.rollout_foreground_shares
    notes: list[str] = field(default_factory=list)
    encoder: str = "target"  # whose attention the maps show (--attention-encoder)

    @property
    def map_kind(self) -> str:
        return "the CLS token's attention to each patch" if self.has_cls else \
            "the mean attention each patch receives from all patches (no CLS token)"

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1] + int(self.has_cls)


def shown_heads(num_heads: int, limit: int = MAX_HEAD_COLUMNS) -> list[int]:
    """Return all heads, or `limit` evenly spaced ones for wide encoders."""
    if num_heads <= limit:
        return list(range(num_heads))
    return sorted({int(round(x)) for x in np.linspace(0, num_heads - 1, limit)})


def present_attention(result: AttentionResult, section: Section) -> None:
    """Fill `section` with the attention figures, metrics and notes of `result`."""
    section.intro = (f"Attention of the {result.encoder} encoder (unmasked images; --attention-encoder) on "
                     f"{len(result.images)} sample image(s) "
                     f"(chosen round-robin over classes with report seed {result.image_seed}), as explicit softmax "
                     f"probabilities per block and head. Maps show {result.map_kind}. "
                     f"{_sentence(result.capture_note)}.")
    section.notes.extend(result.notes)
    _maps_figures(result, section)
    _rollout_figure(result, section)
    _depth_figures(result, section)
    _query_figure(result, section)
    _context_figure(result, section)
    section.metrics.update(attention_metrics(result))
    _foreground_check(result, section)


def _foreground_check(result: AttentionResult, section: Section) -> None:
    """Add the check 'rollout-on-foreground' when the run knows its images' foreground."""
    shares = result.foreground
    if shares is None:
        return
    mass, area = shares["rollout_mass_on_foreground"], shares["foreground_area_share"]
    status = "pass" if mass > area else "warn"
    section.add_check(
        "rollout-on-foreground", status,
        f"the attention rollout puts {mass:.0%} of its mass on the foreground, which covers {area:.0%} of the "
        f"image area (mean over {shares['images']} images; {shares['images_above_area_share']} above their "
        f"own share); a model that looks at the objects puts more than their area share there",
        figure_id="rollout", value=mass)


def _maps_figures(result: AttentionResult, section: Section) -> None:
    layers, heads = depth_layers(result.depth), shown_heads(result.num_heads)
    rows = [result.target.layers.index(layer) for layer in layers]
    maps = result.target.head_maps[0][rows][:, heads]
    name = result.names[0]
    heads_said = "all heads" if len(heads) == result.num_heads else f"heads {heads} of {result.num_heads}"
    section.add_figure(
        "maps", f"Attention maps by layer and head ({name})",
        f"{_sentence(result.map_kind)}, in blocks {layers} (rows) and {heads_said} (columns), over image "
        f"{name} shown in grey; one square is one {result.patch_size}-pixel patch, each panel scaled to its own "
        f"range (brighter = more attention). Healthy after training: some late-block heads light up the "
        f"object(s) or coherent parts while early heads look broad or local; the same map for every image, or "
        f"only a fixed position / the border lit, means attention follows position rather than content "
        + ("(CLS maps as in Caron et al. 2021, DINO)." if result.has_cls else
           "(without a CLS token, the attention a patch receives stands in for DINO's CLS map, Caron et al. 2021)."),
        figures.layer_head_maps_figure(result.images[0], maps, layers, heads))
    section.add_figure(
        "threshold", f"Top {THRESHOLD_KEEP:.0%} of the attention mass ({name})",
        f"DINO's threshold view (Caron et al. 2021, visualize_attention.py): in each panel the smallest set of "
        f"patches holding {THRESHOLD_KEEP:.0%} of that head's attention mass stays bright, the rest is dimmed. "
        f"Healthy: compact regions on the object(s) in late blocks; a kept set covering most of the image "
        f"means the head spreads its attention almost uniformly.",
        figures.layer_head_maps_figure(result.images[0], maps, layers, heads, threshold=THRESHOLD_KEEP))
    last = result.target.layers[-1]
    section.add_figure(
        "heads", f"All {result.num_heads} heads of block {last} ({name})",
        f"{_sentence(result.map_kind)} for every head of the last block, same scaling as above. Healthy: heads "
        f"differ (objects, parts, background); all heads alike suggests redundant heads.",
        figures.all_heads_figure(result.images[0], result.target.head_maps[0, -1], last))


def _rollout_figure(result: AttentionResult, section: Section) -> None:
    variant = describe_rollout(result.head_fusion, result.discard_ratio, result.has_cls)
    if result.target.rollout is None:
        section.notes.append("attention rollout left out: it needs the attention of every block")
        return
    source = "the CLS output" if result.has_cls else "the average output token"
    section.add_figure(
        "rollout", "Attention rollout",
        f"{variant[0].upper()}{variant[1:]}; {result.depth} blocks chained. Top: the images; bottom: how much of "
        f"{source} traces back to each input patch. Healthy: the mass sits on the foreground objects rather than "
        f"spread evenly or stuck at a fixed position (the same blob in every image).",
        figures.rollout_figure(result.images, result.target.rollout, variant, _short(result.names)))


def _depth_figures(result: AttentionResult, section: Section) -> None:
    layers = depth_layers(result.depth)
    rows = [result.target.layers.index(layer) for layer in layers]
    count = min(4, len(result.images))
    maps = result.target.head_maps[:count][:, rows].mean(axis=2)
    labels = {1: ("only",), 2: ("early", "late"), 3: ("early", "middle", "late")}[len(layers)]
    section.add_figure(
        "depth", "Early, middle and late blocks",
        f"{_sentence(result.map_kind)}, averaged over heads, in blocks {layers} for {count} image(s). Healthy: "
        f"early blocks broad or local, late blocks following the image content (objects, structure); maps that "
        f"do not change with depth or between images carry little about the image.",
        figures.depth_comparison_figure(result.images[:count], maps, layers, labels))
    distance = result.target.distance.mean(axis=0)
    entropy = result.target.entropy.mean(axis=0)
    section.add_figure(
        "distance-entropy", "Mean attention distance and entropy per head",
        f"One dot per head and block, averaged over {len(result.images)} image(s). Left: mean attention distance "
        f"(Dosovitskiy et al. 2021, ViT, Fig. 7): for each query patch the attention-weighted distance to the key "
        f"patches (CLS row and column removed, rows re-normalised), averaged over queries, in patches "
        f"({result.patch_size} px each). Right: attention entropy in nats (mean over queries of -sum a ln a, all "
        f"tokens). Dashed: uniform attention. Healthy trained ViT: early blocks mix local (low) and global (high) "
        f"heads, later blocks mostly global; every head on the dashed line in every block means uniform attention, "
        f"typical of an untrained or collapsed encoder.",
        figures.distance_entropy_figure(distance, entropy, result.target.layers, "patches",
                                        float(patch_distances(result.grid).mean()), float(np.log(result.num_tokens))))


def _query_figure(result: AttentionResult, section: Section) -> None:
    layers = depth_layers(result.depth)
    rows = [result.target.layers.index(layer) for layer in layers]
    queries = result.target.queries[0]
    maps = result.target.query_maps[0][:, rows]
    said = {"most attended": "the patch receiving the most attention in the last block",
            "image centre": "the centre of the image",
            "target block": f"the centre of a target block drawn with the run's masking (seed {result.mask_seed})"}
    section.add_figure(
        "queries", f"Where single patches look ({result.names[0]})",
        f"Head-mean attention of one query patch (outlined) to every patch, in blocks {layers}. Queries: "
        + "; ".join(f"{label} = {said[label]}" for label, _ in queries)
        + ". Healthy: early blocks look around the query (local), late blocks at related regions such as the "
          "rest of the same object.",
        figures.query_attention_figure(result.images[0], maps, queries, layers, result.grid))


def _context_figure(result: AttentionResult, section: Section) -> None:
    if result.context_maps is None:
        return
    layer = result.compare_layer
    target = result.target.head_maps[:, result.target.layers.index(layer)].mean(axis=1)
    count = min(4, len(result.images))
    if np.isnan(result.context_maps).any():  # I-JEPA drops hidden tokens: nothing to attend there
        hidden = "dropped from its input, so their cells are blank"
        piling = ""
    else:  # H-JEPA zeroes hidden tokens and keeps them in the sequence
        hidden = "zeroed but kept in its sequence"
        piling = ("; the context encoder piling its attention onto the zeroed tokens would mean it reads the mask "
                  "rather than the image")
    section.add_figure(
        "context-vs-target", "Context encoder vs target encoder",
        f"{_sentence(result.map_kind)}, head mean of block {layer}: target encoder on the full image, context "
        f"encoder under a context mask drawn with the run's masking (seed {result.mask_seed}, the same masks as "
        f"in Predictions vs targets); hatched patches are "
        f"hidden from the context encoder ({hidden}). Healthy: on the visible patches the two maps agree "
        f"broadly (the target encoder is an average of the context encoder){piling}.",
        figures.encoder_comparison_figure(result.images[:count], target[:count], result.context_maps[:count],
                                          result.grid, result.hidden[:count]))


def attention_metrics(result: AttentionResult) -> dict:
    """Return the JSON-friendly metrics of the section (per block and head, averaged over images)."""
    distance = result.target.distance.mean(axis=0)
    entropy = result.target.entropy.mean(axis=0)
    metrics = {
        "encoder": "target",
        "map": result.map_kind,
        "images": len(result.images),
        "image_names": list(result.names),
        "image_seed": result.image_seed,
        "layers": list(result.target.layers),
        "mean_attention_distance": {
            "method": "sum_k a_qk * ||pos_q - pos_k|| over key patches, CLS removed and rows re-normalised, mean "
                      "over query patches and images (Dosovitskiy et al. 2021, ViT, Fig. 7)",
            "unit": "patches", "patch_size_px": result.patch_size,
            "per_layer_head": _rounded(distance),
            "per_layer_head_px": _rounded(distance * result.patch_size),
            "uniform_attention": round(float(patch_distances(result.grid).mean()), 6)},
        "attention_entropy": {
            "method": "-sum_k a_qk ln a_qk, mean over all query tokens and images", "unit": "nats",
            "per_layer_head": _rounded(entropy), "uniform_attention": round(float(np.log(result.num_tokens)), 6)},
        "capture": result.capture_note,
    }
    if result.target.rollout is not None:
        metrics["rollout"] = {"method": describe_rollout(result.head_fusion, result.discard_ratio, result.has_cls),
                              "head_fusion": result.head_fusion, "discard_ratio": result.discard_ratio,
                              "source": "cls" if result.has_cls else "mean query"}
    if result.context_maps is not None:
        metrics["context_comparison"] = {"layer": result.compare_layer, "mask_seed": result.mask_seed}
    if result.foreground is not None:
        metrics["rollout_foreground"] = result.foreground
    return metrics


def _short(names: list[str], limit: int = 22) -> list[str]:
    """Return the file names of image paths, cut to `limit` characters for panel titles."""
    short = [name.rsplit("/", 1)[-1] for name in names]
    return [n if len(n) <= limit else n[:limit - 1] + "…" for n in short]


def _sentence(text: str) -> str:
    """Return `text` with its first letter in upper case (str.capitalize would lower the rest, e.g. CLS)."""
    return text[:1].upper() + text[1:]


def _rounded(values: np.ndarray) -> list[list[float]]:
    """Return a [L, H] array as nested lists of floats rounded to 6 digits."""
    return [[round(float(v), 6) for v in row] for row in values]
