"""How many attention heads the encoder trained with, when neither the config nor the model name says.

A checkpoint stores the qkv weights but not how they are split into heads, and every output depends on the split.
The run itself can tell: for every candidate head count (those dividing the width with 8- to 128-dim heads, the
range of published ViTs) the loss of the run's own objective (models/loss.py) is evaluated on a batch of the run's
images, averaged over a few seeded draws of its masks (the same draws for every candidate: one draw alone varies by
~10 % on the sample run, more than the differences sought). Merging trained heads (too few) mixes their attention
patterns and the loss jumps; splitting a trained head (too many) keeps most of its pattern and the loss barely
moves, sometimes even dips (measured on this project's sample run: 1, 2, 4, 8 heads give 0.91, 0.79, 0.731, 0.728
for the true 4). So the loss falls steeply up to the trained count and then is flat: the answer is the fewest heads
within TOLERANCE of the lowest loss, provided the knee is visible (the next fewer candidate at least MARGIN above
the lowest) and the attention is not degenerate (mean normalised entropy of the first block's attention rows
strictly between DEGENERATE and 1 - DEGENERATE: neither one-hot nor uniform; a nearly untrained encoder attends
uniformly under every split and cannot tell). Otherwise the guess stays, with the evidence in the model card.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

TOLERANCE = 0.02  # candidates within 2 % of the lowest loss are on the plateau
MARGIN = 1.05  # the next fewer heads must give a loss at least 5 % above the lowest: the knee
DEGENERATE = 0.02  # normalised attention entropy below it (one-hot) or above 1 - it (uniform)


@dataclass
class HeadsEvidence:
    """The loss (and attention entropy) under each candidate head count, and what was concluded."""

    guess: int
    losses: dict[int, float]
    entropies: dict[int, float]
    chosen: int | None = None  # None: the evidence did not single one out
    checkpoint: str = ""
    logged_loss: float | None = None  # the run's logged training loss near that checkpoint, for the reader
    rejected: dict[int, str] = field(default_factory=dict)
    images: int = 0
    draws: int = 0

    def describe(self) -> str:
        """One line for the model card: every candidate's loss and the conclusion."""
        parts = ", ".join(f"{h}: {loss:.4g}" for h, loss in self.losses.items())
        logged = "" if self.logged_loss is None else f"; logged train/loss near it {self.logged_loss:.4g}"
        how = (
            f"loss of the run's objective on {self.checkpoint} under each head count ({parts}; {self.images} "
            f"images, mean of {self.draws} mask draws){logged}"
        )
        if self.chosen is None:
            why = "; ".join(f"{h} heads: {reason}" for h, reason in self.rejected.items())
            return f"not inferred ({why}): {how}"
        return f"inferred from the run: {how}"


def candidates(width: int, guess: int) -> list[int]:
    """Head counts that divide the width into 8- to 128-dim heads, plus the guess."""
    found = {h for h in range(1, width + 1) if width % h == 0 and 8 <= width // h <= 128}
    return sorted(found | {guess})


def set_encoder_heads(network, heads: int) -> None:
    """Split the context and target encoders' attention into `heads` heads, in place."""
    for encoder in (network.context_encoder, network.target_encoder):
        if encoder is not None:
            encoder.vit.set_heads(heads)


def infer_heads(model, images: torch.Tensor, draws: list, settings, label: str = "") -> HeadsEvidence:
    """Evaluate every candidate on one batch, its loss averaged over the mask `draws` (see the module
    docstring); leaves the model with the chosen split (or the guess) and returns the evidence."""
    guess = model.info.num_heads
    evidence = HeadsEvidence(guess, {}, {}, checkpoint=label, images=len(images), draws=len(draws))
    for heads in candidates(model.info.embed_dim, guess):
        set_encoder_heads(model.network, heads)
        with torch.inference_mode():
            losses = [float(model.loss(images, masks, settings).total) for masks in draws]
            evidence.losses[heads] = sum(losses) / len(losses)
            attention = model.encode(images, encoder="target", attention_layers=[0]).attentions[0]
        evidence.entropies[heads] = normalised_entropy(attention)
    evidence.chosen = knee(evidence)
    set_encoder_heads(model.network, evidence.chosen or guess)
    return evidence


def knee(evidence: HeadsEvidence) -> int | None:
    """The fewest heads on the loss plateau, when the knee before it is visible and its attention is not
    degenerate (see the module docstring); None otherwise, with the reason in evidence.rejected."""
    losses = evidence.losses
    best = min(losses.values())
    counts = sorted(losses)
    chosen = next(h for h in counts if losses[h] <= best * (1 + TOLERANCE))
    fewer = [h for h in counts if h < chosen]
    entropy = evidence.entropies[chosen]
    if not DEGENERATE < entropy < 1 - DEGENERATE:
        evidence.rejected[chosen] = f"degenerate attention (normalised entropy {entropy:.3f})"
        return None
    if not fewer or losses[fewer[-1]] < MARGIN * best:
        evidence.rejected[chosen] = "no loss jump below it: fewer heads fit as well"
        return None
    return chosen


def normalised_entropy(attention: torch.Tensor) -> float:
    """Mean over rows of -sum p log p / log T for attention probabilities [..., T, T] (1: uniform, 0: one-hot)."""
    p = attention.double().clamp_min(1e-30)
    entropy = -(p * p.log()).sum(dim=-1)
    return float(entropy.mean() / math.log(attention.shape[-1]))


def apply_evidence(model, evidence: HeadsEvidence) -> None:
    """Give a loaded model the inferred split and say so in its ModelInfo (every checkpoint of a run shares it)."""
    info = model.info
    if evidence.chosen is None:
        info.warnings.append(f"encoder heads {evidence.describe()}")
        return
    set_encoder_heads(model.network, evidence.chosen)
    info.num_heads, info.heads_guessed = evidence.chosen, False
    info.heads_source = evidence.describe()
    info.warnings = [
        w.split("; number of heads not recorded")[0]
        for w in info.warnings
        if not w.startswith("number of heads not recorded")
    ]
