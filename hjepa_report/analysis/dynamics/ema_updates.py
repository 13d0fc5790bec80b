"""Did the EMA ever update the target encoder? And is there a target encoder at all?

A target encoder starts as a copy of the context encoder (H-JEPA src/models/encoder.py create_encoder:
copy_from_context_encoder; I-JEPA src/train.py: deepcopy) and then only moves by the EMA step
theta_t <- m theta_t + (1 - m) theta_c. When that step never runs, the target stays at the initial network
for the whole run, and every prediction target comes from an untrained encoder. H-JEPA's trainer has such a
case: wrapped in DistributedDataParallel, `hasattr(self.model, "target_encoder")` is false on the wrapper, so
HJEPATrainer._update_target_encoder returns at once on every step (src/trainers/trainer.py @ eb995a0), while
the checkpoint (saved from model.module) looks like any other.

Evidence read from the checkpoints (models/ema.py):
- LayerNorms at init: every LayerNorm weight of the target is exactly 1 and every bias exactly 0 at the latest
  checkpoint while some of the context encoder's have moved;
- frozen target: the target's biases and norms are bit-identical in every checkpoint while the context
  encoder's changed.
Either one means the EMA never ran. End-to-end runs (`model.use_target_encoder: false`, or checkpoints without
target_encoder.* weights) have no EMA at all: the EMA checks do not apply to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...models.ema import norms_at_init, small_tensor_fingerprint


@dataclass
class EncoderSnapshot:
    """What one checkpoint says about its two encoders: LayerNorms at init and a digest of the small tensors."""

    checkpoint: str
    target_norms: tuple[int, int]  # (LayerNorm tensors, still exactly at 1 / 0)
    context_norms: tuple[int, int]
    target_digest: str
    context_digest: str


def snapshot(name: str, context: dict, target: dict) -> EncoderSnapshot:
    """Read the evidence of one checkpoint from its context and target parameters (prefixes removed)."""
    return EncoderSnapshot(
        checkpoint=name,
        target_norms=norms_at_init(target),
        context_norms=norms_at_init(context),
        target_digest=small_tensor_fingerprint(target),
        context_digest=small_tensor_fingerprint(context),
    )


def end_to_end_reason(run) -> str | None:
    """Why the run has no EMA target encoder (end-to-end, LeWM-style), or None when it has one."""
    if run.layout != "hjepa":
        return None
    model = (run.config or {}).get("model") or {}
    if isinstance(model, dict) and model.get("use_target_encoder", True) is False:
        return (
            "model.use_target_encoder is false: an end-to-end run whose targets come from the context encoder; "
            "H-JEPA's trainer skips the EMA update (_update_target_encoder), so the ema_momentum it logs is a "
            "schedule that was never applied"
        )
    readable = [c for c in run.unique_checkpoints() if c.readable and c.param_counts]
    if readable and not any(c.param_counts.get("target encoder") for c in readable):
        return (
            "the checkpoints hold no target_encoder.* weights: an end-to-end run whose targets come from the "
            "context encoder, with no EMA to schedule"
        )
    return None


def never_ran_evidence(snapshots: list[EncoderSnapshot]) -> tuple[bool | None, list[str]]:
    """(True: the EMA never ran, False: it did, None: cannot tell) and the evidence, one sentence per finding."""
    if not snapshots:
        return None, []
    last, evidence = snapshots[-1], []
    n_t, init_t = last.target_norms
    n_c, init_c = last.context_norms
    norms_frozen = n_t > 0 and init_t == n_t and init_c < n_c
    if norms_frozen:
        evidence.append(
            f"at {last.checkpoint} all {n_t} LayerNorm weights / biases of the target encoder are exactly 1 / 0 "
            f"(their initial values) while {n_c - init_c} of the context encoder's {n_c} have moved"
        )
    target_moved = len({s.target_digest for s in snapshots}) > 1
    context_moved = len({s.context_digest for s in snapshots}) > 1
    if len(snapshots) > 1 and not target_moved and context_moved:
        evidence.append(
            f"the target encoder's biases and norms are bit-identical in all {len(snapshots)} checkpoints "
            "while the context encoder's changed"
        )
    if evidence and not target_moved:
        return True, evidence
    if target_moved or (n_t > 0 and init_t < n_t):
        how = "changed between checkpoints" if target_moved else f"has {n_t - init_t} of {n_t} LayerNorms moved"
        return False, [f"the target encoder {how}"]
    return None, ["one checkpoint and no LayerNorm moved off its initial value in either encoder: cannot tell"]
