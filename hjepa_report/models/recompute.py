"""Recompute transformer blocks in the backward pass instead of keeping their activations (gradient flow).

One backward pass of a ViT-B/16 H-JEPA loss on 8 images keeps every block's activations for autograd: about
1.5 GB (queries, keys, values, attention probabilities and the MLP's hidden layer of 12 encoder and 6
predictor blocks), on top of the weights and their gradients. Activation checkpointing (Chen et al. 2016,
"Training Deep Nets with Sublinear Memory Cost"; torch.utils.checkpoint, non-reentrant) keeps only each
block's input and runs the block's forward again when the backward reaches it: the same gradients
(eval mode: no dropout, deterministic kernels) for one more forward pass, at a small fraction of the memory.
"""

from __future__ import annotations

from contextlib import contextmanager

from .meter import block_lists


@contextmanager
def recomputed_blocks(network):
    """Within this context, every transformer block of `network` (the `blocks` / `predictor_blocks` lists)
    keeps only its input for autograd and is recomputed in the backward pass; outside it nothing changes."""
    from torch.utils.checkpoint import checkpoint

    blocks = [block for blocks in block_lists(network) for block in blocks]
    originals = [block.forward for block in blocks]

    def checkpointed(forward):
        def run(*args, **kwargs):
            import torch

            if not torch.is_grad_enabled():
                return forward(*args, **kwargs)
            return checkpoint(forward, *args, use_reentrant=False, **kwargs)

        return run

    try:
        for block, forward in zip(blocks, originals, strict=True):
            block.forward = checkpointed(forward)
        yield
    finally:
        for block in blocks:
            del block.forward  # back to the class's forward
