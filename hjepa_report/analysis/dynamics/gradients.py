"""Gradient flow: per-layer gradient statistics after one backward pass of the run's own loss.

One backward pass of the run's loss (JepaModel.loss, its context side) on a fixed batch with seeded masks, with
the network's weights as stored. For every layer (a module's parameters together, e.g. `blocks.3.attn.qkv` =
weight + bias) we report the gradient L2 norm, the mean and max |g| over its entries, and the gradient-to-weight
ratio ||g|| / ||w|| (the relative step an SGD update with lr 1 would take; "You et al. 2017, LARS" uses the
same ratio to set per-layer learning rates). Vanishing gradients show up as tiny ratios in the early blocks,
exploding ones as huge ratios or non-finite values (thresholds: analysis.thresholds gradients.vanishing /
.exploding).
The gradients are the training ones (models/loss.py): targets are stop-gradient (H-JEPA HJEPALoss detach_targets,
I-JEPA torch.no_grad), so H-JEPA's hierarchy projections get gradient only through the prediction branch although
they also shape the targets, unless the run trained with `loss.detach_targets: false` (then through both, and in
end-to-end runs into the encoder through its unmasked pass too); a VICReg or SIGReg term on the context output adds
its own gradient to the context encoder. Parameters that get no gradient at all (not used in the loss, e.g.
H-JEPA's `predictor.pos_embed_predictor`) are listed apart: that is a property of the model, not a vanishing
gradient.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

VANISHING = 1e-7  # default of analysis.thresholds "gradients.vanishing": every |g| of a layer below it
_BLOCK = re.compile(r"(?:^|\.)(?:blocks|predictor_blocks)\.(\d+)\.")


@dataclass
class LayerGrad:
    """Gradient statistics of one layer (a module's trainable parameters together)."""

    name: str  # e.g. context_encoder.vit.blocks.3.attn.qkv
    part: str  # encoder | predictor | hierarchy | other
    block: str  # "block 3", "embed", "norm", "head", ...
    grad_norm: float
    mean_abs: float
    max_abs: float
    weight_norm: float
    finite: bool

    @property
    def ratio(self) -> float:
        """||g|| / ||w|| (NaN for a zero weight)."""
        return self.grad_norm / self.weight_norm if self.weight_norm > 0 else float("nan")


@dataclass
class GradientFlow:
    """Per-layer gradients of one checkpoint, plus the loss they came from and the parameters with no gradient."""

    loss: float
    layers: list[LayerGrad]
    no_gradient: list[str] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)  # the loss's logged terms (loss_h0, jepa_loss...)

    def problems(self, vanishing: float = VANISHING, exploding: float = float("inf")) -> dict[str, list[LayerGrad]]:
        """Layers with non-finite gradients, with every |g| < vanishing, or with ||g|| > exploding."""
        return {
            "non-finite": [lg for lg in self.layers if not lg.finite],
            "vanishing": [lg for lg in self.layers if lg.finite and lg.max_abs < vanishing],
            "exploding": [lg for lg in self.layers if lg.finite and lg.grad_norm > exploding],
        }

    def per_block(self) -> dict[tuple[str, str], float]:
        """{(part, block): ||g_block|| / ||w_block||} over all layers of the block."""
        g2: dict[tuple[str, str], float] = {}
        w2: dict[tuple[str, str], float] = {}
        for lg in self.layers:
            key = (lg.part, lg.block)
            g2[key] = g2.get(key, 0.0) + lg.grad_norm**2
            w2[key] = w2.get(key, 0.0) + lg.weight_norm**2
        return {k: (g2[k] ** 0.5 / w2[k] ** 0.5 if w2[k] > 0 else float("nan")) for k in g2}


PART_PREFIXES = (  # state-dict prefix -> part, for H-JEPA and I-JEPA networks
    ("context_encoder.", "encoder"),
    ("encoder.", "encoder"),
    ("predictor.", "predictor"),
    ("hierarchy_projections.", "hierarchy"),
    ("fpn", "hierarchy"),
)


def layer_of(param_name: str) -> tuple[str, str, str]:
    """Return (layer name, part, block) for a parameter name: the layer drops the trailing .weight/.bias."""
    head, _, last = param_name.rpartition(".")
    if last in ("weight", "bias"):
        layer = head
    elif last in ("in_proj_weight", "in_proj_bias"):  # nn.MultiheadAttention keeps these on the attn module
        layer = head + ".in_proj"
    else:
        layer = param_name
    part = next((p for prefix, p in PART_PREFIXES if param_name.startswith(prefix)), "other")
    m = _BLOCK.search(param_name)
    if m:
        block = f"block {int(m.group(1))}"
    elif any(k in param_name for k in ("patch_embed", "pos_embed", "cls_token", "mask_token", "predictor_embed")):
        block = "embed"
    elif part == "hierarchy":
        block = f"level {param_name.split('.')[1]}" if param_name.startswith("hierarchy_projections.") else "fpn"
    else:
        block = "head" if any(k in param_name for k in ("head", "proj.", "predictor_proj")) else "norm"
    return layer, part, block


def gradient_flow(network, loss_fn, backward=None) -> GradientFlow:
    """Back-propagate `loss_fn()` once and collect per-layer statistics; leaves no gradients behind.

    loss_fn returns a scalar tensor built from `network`'s parameters (autograd on), or a models.loss.Loss
    (its total is back-propagated, its logged terms kept as `components`); `backward(loss)` runs the
    backward pass (default loss.backward(); JepaModel.backward also times it).

    Memory: each parameter's gradient is reduced to its sums (ParamSums) the moment autograd has accumulated
    it (a post-accumulate-grad hook) and dropped there, so the backward pass never holds every gradient at
    once (a ViT-B/16 H-JEPA: 0.5 GB of gradients). The parameters' .grad are None before and after, so a
    cached network is left as it was found.
    """
    import torch

    params = {n: p for n, p in network.named_parameters() if p.requires_grad}
    sums: dict[str, ParamSums] = {}

    def reducer(name: str):
        def reduce(param) -> None:
            if name in sums:  # one backward pass accumulates each leaf once (non-reentrant recomputation too)
                raise RuntimeError(f"the gradient of {name} was accumulated twice in one backward pass")
            sums[name] = ParamSums.of(param.detach(), param.grad.detach())
            param.grad = None

        return reduce

    for p in params.values():
        p.grad = None
    handles = [p.register_post_accumulate_grad_hook(reducer(n)) for n, p in params.items()]
    try:
        with torch.enable_grad():
            result = loss_fn()
            loss = getattr(result, "total", result)
            (backward or type(loss).backward)(loss)
        logged = result.logged() if hasattr(result, "logged") else {}
        components = {name: float(value.detach()) for name, value in logged.items()}
        stats: dict[str, list] = {}
        for name in params:
            if name in sums:
                stats.setdefault(layer_of(name)[0], []).append((name, sums[name]))
        no_grad = [name for name in params if name not in sums]
        layers = [_layer_stats(layer, entries) for layer, entries in stats.items()]
        return GradientFlow(float(loss.detach()), layers, no_grad, components)
    finally:
        for handle in handles:
            handle.remove()
        for p in params.values():
            p.grad = None


@dataclass
class ParamSums:
    """One parameter's gradient g and weight w reduced in float64: what a layer's statistics are made of."""

    grad_squares: float  # sum g^2
    grad_abs: float  # sum |g|
    grad_max: float  # max |g| (NaN if any g is NaN)
    count: int
    finite: bool
    weight_squares: float  # sum w^2

    @classmethod
    def of(cls, weight, grad) -> ParamSums:
        """Reduce one parameter: entries squared in their own dtype (float32: 1e-7 relative each) and summed in
        float64, which is 3x faster than converting both tensors to float64 first; entries beyond 1e18,
        whose float32 square would overflow, are squared in float64."""
        import torch

        g, w = grad.reshape(-1), weight.reshape(-1)
        ga = g.abs()
        largest = ga.max()
        return cls(
            grad_squares=_sum_of_squares(g, float(largest)),
            grad_abs=float(torch.sum(ga, dtype=torch.float64)),
            grad_max=float(largest),
            count=g.numel(),
            finite=bool(torch.isfinite(largest)),  # max |g| is NaN or inf where any entry is
            weight_squares=_sum_of_squares(w, float(w.abs().max())),
        )


def _sum_of_squares(x, largest: float) -> float:
    """sum x^2 accumulated in float64; squared in float64 too where float32 would overflow (|x| > 1e18)."""
    import torch

    squares = x.double().square() if not largest < 1e18 else x.square()  # `not <`: NaN takes float64 too
    return float(torch.sum(squares, dtype=torch.float64))


def _layer_stats(layer: str, entries: list) -> LayerGrad:
    """Combine the (name, ParamSums) entries of one layer into a LayerGrad: ||g|| = sqrt(sum g^2) and the
    mean |g| over all its entries, max |g|, ||w||."""
    parts = [e[1] for e in entries]
    largest = [s.grad_max for s in parts]
    _, part, block = layer_of(entries[0][0])
    return LayerGrad(
        name=layer,
        part=part,
        block=block,
        grad_norm=math.sqrt(sum(s.grad_squares for s in parts)),
        mean_abs=sum(s.grad_abs for s in parts) / sum(s.count for s in parts),
        max_abs=math.nan if any(math.isnan(x) for x in largest) else max(largest),
        weight_norm=math.sqrt(sum(s.weight_squares for s in parts)),
        finite=all(s.finite for s in parts),
    )


def block_order(key: tuple[str, str]) -> tuple:
    """Sort (part, block) keys: encoder, predictor, hierarchy; inside: embed, blocks, norm/head, levels."""
    part, block = key
    parts = {"encoder": 0, "predictor": 1, "hierarchy": 2}
    if block.startswith(("block ", "level ")):
        inner = (1, int(block.split()[1]))
    else:
        inner = ({"embed": 0, "norm": 2, "head": 3}.get(block, 4), 0)
    return (parts.get(part, 3), inner)


def as_matrix(flows: list[GradientFlow]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Return (columns, [checkpoints, columns] ratios) for a per-block heatmap across checkpoints."""
    per = [f.per_block() for f in flows]
    cols = sorted({k for d in per for k in d}, key=block_order)
    return cols, np.array([[d.get(c, np.nan) for c in cols] for d in per], dtype=float)
