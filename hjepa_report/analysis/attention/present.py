"""Draw an AttentionResult: the section's figures, captions and intro (no model, no torch, no context).

Kept apart from the pass so that the captions (how to read each figure, what healthy looks like, which
method and reference, which encoder is shown) live next to the figure calls that they describe.
"""

from __future__ import annotations

import numpy as np

from ..base import Presentation
from . import figures
from .capture import depth_layers
from .metrics import patch_distances
from .result import AttentionResult
from .rollout import describe_rollout

MAX_HEAD_COLUMNS = 6
THRESHOLD_KEEP = 0.6


def shown_heads(num_heads: int, limit: int = MAX_HEAD_COLUMNS) -> list[int]:
    """Return all heads, or `limit` evenly spaced ones for wide encoders."""
    if num_heads <= limit:
        return list(range(num_heads))
    return sorted({int(round(x)) for x in np.linspace(0, num_heads - 1, limit)})


def present_attention(result: AttentionResult) -> Presentation:
    """Return the attention figures, intro and notes of `result`."""
    shown = Presentation(
        intro=(
            f"Attention of the {result.encoder_label} (unmasked images; --attention-encoder) on "
            f"{len(result.images)} sample image(s) (chosen round-robin over classes with report seed "
            f"{result.image_seed}), as explicit softmax probabilities per block and head. Maps show "
            f"{result.map_kind}. {_sentence(result.capture_note)}."
        )
    )
    _maps_figures(result, shown)
    _rollout_figure(result, shown)
    _depth_figures(result, shown)
    _query_figure(result, shown)
    _context_figure(result, shown)
    return shown


def _maps_figures(result: AttentionResult, shown: Presentation) -> None:
    layers, heads = depth_layers(result.depth), shown_heads(result.num_heads)
    rows = [result.attention.layers.index(layer) for layer in layers]
    maps = result.attention.head_maps[0][rows][:, heads]
    name, encoder = result.names[0], result.encoder_label
    heads_said = "all heads" if len(heads) == result.num_heads else f"heads {heads} of {result.num_heads}"
    shown.add_figure(
        "maps",
        f"Attention maps by layer and head ({encoder}, {name})",
        f"{_sentence(result.map_kind)} in the {encoder}, in blocks {layers} (rows) and {heads_said} (columns), "
        f"over image {name} shown in grey; one square is one {result.patch_size}-pixel patch, each panel scaled "
        f"to its own range (brighter = more attention). Healthy after training: some late-block heads light up "
        f"the object(s) or coherent parts while early heads look broad or local; the same map for every image, or "
        f"only a fixed position / the border lit, means attention follows position rather than content "
        + (
            "(CLS maps as in Caron et al. 2021, DINO)."
            if result.has_cls
            else "(without a CLS token, the attention a patch receives stands in for DINO's CLS map, "
            "Caron et al. 2021)."
        ),
        figures.layer_head_maps_figure(result.images[0], maps, layers, heads),
    )
    shown.add_figure(
        "threshold",
        f"Top {THRESHOLD_KEEP:.0%} of the attention mass ({encoder}, {name})",
        f"DINO's threshold view (Caron et al. 2021, visualize_attention.py) of the {encoder}'s maps above: in each "
        f"panel the smallest set of patches holding {THRESHOLD_KEEP:.0%} of that head's attention mass stays "
        f"bright, the rest is dimmed. Healthy: compact regions on the object(s) in late blocks; a kept set "
        f"covering most of the image means the head spreads its attention almost uniformly.",
        figures.layer_head_maps_figure(result.images[0], maps, layers, heads, threshold=THRESHOLD_KEEP),
    )
    last = result.attention.layers[-1]
    shown.add_figure(
        "heads",
        f"All {result.num_heads} heads of block {last} ({encoder}, {name})",
        f"{_sentence(result.map_kind)} in the {encoder} for every head of the last block, same scaling as above. "
        f"Healthy: heads differ (objects, parts, background); all heads alike suggests redundant heads.",
        figures.all_heads_figure(result.images[0], result.attention.head_maps[0, -1], last),
    )


def _rollout_figure(result: AttentionResult, shown: Presentation) -> None:
    variant = describe_rollout(result.head_fusion, result.discard_ratio, result.has_cls)
    if result.attention.rollout is None:
        return  # compute's notes say why
    source = "the CLS output" if result.has_cls else "the average output token"
    shown.add_figure(
        "rollout",
        f"Attention rollout ({result.encoder_label})",
        f"{variant[0].upper()}{variant[1:]}; {result.depth} blocks of the {result.encoder_label} chained. Top: the "
        f"images; bottom: how much of {source} traces back to each input patch. Healthy: the mass sits on the "
        f"foreground objects rather than spread evenly or stuck at a fixed position (the same blob in every image).",
        figures.rollout_figure(result.images, result.attention.rollout, variant, _short(result.names)),
    )


def _depth_figures(result: AttentionResult, shown: Presentation) -> None:
    layers = depth_layers(result.depth)
    rows = [result.attention.layers.index(layer) for layer in layers]
    count = min(4, len(result.images))
    maps = result.attention.head_maps[:count][:, rows].mean(axis=2)
    labels = {1: ("only",), 2: ("early", "late"), 3: ("early", "middle", "late")}[len(layers)]
    shown.add_figure(
        "depth",
        f"Early, middle and late blocks ({result.encoder_label})",
        f"{_sentence(result.map_kind)} in the {result.encoder_label}, averaged over heads, in blocks {layers} for "
        f"{count} image(s). Healthy: early blocks broad or local, late blocks following the image content "
        f"(objects, structure); maps that do not change with depth or between images carry little about the image.",
        figures.depth_comparison_figure(result.images[:count], maps, layers, labels),
    )
    distance = result.attention.distance.mean(axis=0)
    entropy = result.attention.entropy.mean(axis=0)
    shown.add_figure(
        "distance-entropy",
        f"Mean attention distance and entropy per head ({result.encoder_label})",
        f"One dot per head and block of the {result.encoder_label}, averaged over {len(result.images)} image(s). "
        f"Left: mean attention distance (Dosovitskiy et al. 2021, ViT, Fig. 7): for each query patch the "
        f"attention-weighted distance to the key patches (CLS row and column removed, rows re-normalised), "
        f"averaged over queries, in patches ({result.patch_size} px each). Right: attention entropy in nats (mean "
        f"over queries of -sum a ln a, all tokens). Dashed: uniform attention. Healthy trained ViT: early blocks "
        f"mix local (low) and global (high) heads, later blocks mostly global; every head on the dashed line in "
        f"every block means uniform attention, typical of an untrained or collapsed encoder.",
        figures.distance_entropy_figure(
            distance,
            entropy,
            result.attention.layers,
            "patches",
            float(patch_distances(result.grid).mean()),
            float(np.log(result.num_tokens)),
        ),
    )


def _query_figure(result: AttentionResult, shown: Presentation) -> None:
    layers = depth_layers(result.depth)
    rows = [result.attention.layers.index(layer) for layer in layers]
    queries = result.attention.queries[0]
    maps = result.attention.query_maps[0][:, rows]
    said = {
        "most attended": "the patch receiving the most attention in the last block",
        "image centre": "the centre of the image",
        "target block": f"the centre of a target block drawn with the run's masking (seed {result.mask_seed})",
    }
    shown.add_figure(
        "queries",
        f"Where single patches look ({result.encoder_label}, {result.names[0]})",
        f"Head-mean attention of one query patch (outlined) to every patch in the {result.encoder_label}, in "
        f"blocks {layers}. Queries: "
        + "; ".join(f"{label} = {said[label]}" for label, _ in queries)
        + ". Healthy: early blocks look around the query (local), late blocks at related regions such as the "
        "rest of the same object.",
        figures.query_attention_figure(result.images[0], maps, queries, layers, result.grid),
    )


def _context_figure(result: AttentionResult, shown: Presentation) -> None:
    compared = result.comparison
    if compared is None:
        return
    count = min(4, len(result.images))
    if np.isnan(compared.context_maps).any():  # I-JEPA drops hidden tokens: nothing to attend there
        hidden = "dropped from its input, so their cells are blank"
        piling = ""
    else:  # H-JEPA zeroes hidden tokens and keeps them in the sequence
        hidden = "zeroed but kept in its sequence"
        piling = (
            "; the context encoder piling its attention onto the zeroed tokens would mean it reads the mask "
            "rather than the image"
        )
    shown.add_figure(
        "context-vs-target",
        "Context encoder vs target encoder",
        f"{_sentence(result.map_kind)}, head mean of block {compared.layer}: target encoder on the full image, "
        f"context encoder under a context mask drawn with the run's masking (seed {compared.mask_seed}, the same "
        f"masks as in Predictions vs targets); hatched patches are "
        f"hidden from the context encoder ({hidden}). Healthy: on the visible patches the two maps agree "
        f"broadly (the target encoder is an average of the context encoder){piling}.",
        figures.encoder_comparison_figure(
            result.images[:count],
            compared.target_maps[:count],
            compared.context_maps[:count],
            result.grid,
            compared.hidden[:count],
        ),
    )


def _short(names: list[str], limit: int = 22) -> list[str]:
    """Return the file names of image paths, cut to `limit` characters for panel titles."""
    short = [name.rsplit("/", 1)[-1] for name in names]
    return [n if len(n) <= limit else n[: limit - 1] + "…" for n in short]


def _sentence(text: str) -> str:
    """Return `text` with its first letter in upper case (str.capitalize would lower the rest, e.g. CLS)."""
    return text[:1].upper() + text[1:]
